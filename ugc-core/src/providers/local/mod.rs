//! Local engines.
