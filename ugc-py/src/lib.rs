//! Python binding of ugc (pyo3 + maturin): conversion only, logic lives in ugc-core.
//!
//! This crate is a member of the workspace from the start so that its build stays green
//! while the core grows; its surface is the Gateway of ugc-core, mapped one to one.

pub use ugc_core::ErrorKind;
