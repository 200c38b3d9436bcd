//! End-to-end tests of ugc; the test files are under `tests/tests/`.
