//! End-to-end tests of ugc; the test files are under `tests/tests/`. The README is included
//! below so that its Rust snippet runs as a doc test and cannot rot.
#![doc = include_str!("../../README.md")]
