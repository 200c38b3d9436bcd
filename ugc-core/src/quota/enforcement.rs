/// Who decided a reservation or denial: the store itself, or the fail mode because the store
/// was unreachable (DESIGN section 3, `quota`). The in-memory store always reports `Store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Enforcement {
    /// The configured store checked every limit.
    #[default]
    Store,
    /// The store was unavailable and the fail mode admitted without checking.
    FailOpen,
    /// The store was unavailable and the fail mode denied.
    FailClosed,
    /// The store was unavailable and an in-process limiter with scaled-down limits decided.
    LocalFallback,
}

impl Enforcement {
    /// Stable snake_case name, for logs and bindings.
    pub const fn as_str(self) -> &'static str {
        match self {
            Enforcement::Store => "store",
            Enforcement::FailOpen => "fail_open",
            Enforcement::FailClosed => "fail_closed",
            Enforcement::LocalFallback => "local_fallback",
        }
    }
}
