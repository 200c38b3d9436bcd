//! Criterion benchmarks of ugc-core. Run them with `cargo bench -p ugc-benches`;
//! docs/benchmarks.md records the figures and the machine they were measured on.
