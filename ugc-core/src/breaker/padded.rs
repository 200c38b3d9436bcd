//! Keeps a hot atomic on its own cache line.

use std::ops::Deref;

/// Aligns `T` to 128 bytes: two 64-byte lines, because x86 prefetches lines in pairs. Without
/// it, every `fetch_add` on the ring position would evict the state word that every
/// `try_acquire` reads.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(super) struct CachePadded<T>(pub(super) T);

impl<T> Deref for CachePadded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}
