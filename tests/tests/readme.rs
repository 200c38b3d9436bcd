//! The README's promises hold: it opens with the two commands, CI runs the second, and its
//! Rust snippet compiles and runs (see `readme_snippet`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .expect("README has a sh block");
    let block = block.split("```").next().unwrap();
    block
        .lines()
        .map(|l| l.split('#').next().unwrap().trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn readme_opens_with_the_two_commands() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let first_block = readme.find("```").unwrap();
    assert!(
        readme.find("```sh").unwrap() == first_block,
        "the first code block is the commands"
    );
    let commands = readme_commands();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(commands[0].starts_with("cargo run"), "{commands:?}");
}

#[test]
fn ci_runs_the_readme_test_command() {
    let test_command = &readme_commands()[1];
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    let script = test_command.split_whitespace().next().unwrap();
    assert!(ci.contains(script), ".ci/run must call `{test_command}`");
    assert!(repo().join(script).exists());
}

#[test]
fn the_first_command_names_an_example_that_exists() {
    let run = &readme_commands()[0];
    let name = run
        .split("--example")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let manifest = std::fs::read_to_string(repo().join("examples/Cargo.toml")).unwrap();
    assert!(
        manifest.contains(&format!("name = \"{name}\"")),
        "no example {name}"
    );
}
