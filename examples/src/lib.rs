//! Runnable examples of ugc. Run one with `cargo run -p ugc-examples --example <name>`.
