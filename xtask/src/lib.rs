//! Project tasks run with `cargo xtask <task>`.
#![warn(missing_docs)]

pub mod elf;
pub mod image;
pub mod package;

use std::path::{Path, PathBuf};

/// Cargo's target directory for the workspace at `root`: `CARGO_TARGET_DIR` when set, else
/// `root/target`. A relative `CARGO_TARGET_DIR` is taken from `root`: every cargo this crate
/// runs runs there, and so do the scripts (a test's own directory is its package's).
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// The one debug `cargo build` of the workspace's own binaries (handler, local host, web app,
/// xtask) that the local stack, `cargo xtask app-dir`, schemathesis and the end-to-end tests
/// share.
///
/// `--workspace --examples` makes cargo resolve features as `cargo test --workspace` does
/// (examples need the dev-dependencies, so their features count). With `-p house-price-functions` cargo
/// resolves features for that package alone: tokio loses `test-util`, serde and syn lose
/// features, and most of the dependency tree is compiled a second time. Resolved this way,
/// the build after the test build compiles nothing. The price: these binaries carry the
/// dev-only features too (tokio's `test-util`, `drain/loader`); what ships is built by
/// `cargo xtask package`, with its own features.
pub const BUILD_BINARIES: [&str; 4] = ["build", "--workspace", "--bins", "--examples"];

/// The release build of the same binaries. No test build shares a release feature set, so
/// this builds only the four packages, not every example and dev-dependency with LTO.
pub const BUILD_RELEASE_BINARIES: [&str; 10] = [
    "build",
    "--release",
    "-p",
    "house-price-functions",
    "-p",
    "local-host",
    "-p",
    "webapp",
    "-p",
    "xtask",
];

/// Runs [`BUILD_BINARIES`] (or [`BUILD_RELEASE_BINARIES`]) for the workspace at `root` and
/// returns the directory holding the binaries.
pub fn build_binaries(root: &Path, release: bool) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build.current_dir(root);
    if release {
        build.args(BUILD_RELEASE_BINARIES);
    } else {
        build.args(BUILD_BINARIES);
    }
    let status = build
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building the workspace's binaries failed".into());
    }
    Ok(target_dir(root).join(if release { "release" } else { "debug" }))
}
