//! Project tasks run with `cargo xtask <task>`.
#![warn(missing_docs)]

pub mod elf;
pub mod image;
pub mod package;

use std::path::{Path, PathBuf};

/// Cargo's target directory for the workspace at `root`: `CARGO_TARGET_DIR` when set
/// (relative to the current directory, as cargo reads it), else `root/target`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            std::path::absolute(PathBuf::from(&dir)).unwrap_or(dir.into())
        }
        _ => root.join("target"),
    }
}

/// The one `cargo build` of the workspace's own binaries (handler, local host, web app,
/// xtask) that the local stack, `cargo xtask app-dir` and the end-to-end tests share.
///
/// `--workspace --examples` makes cargo resolve features as `cargo test --workspace` does
/// (examples need the dev-dependencies, so their features count). With `-p handler` cargo
/// resolves features for that package alone: tokio loses `test-util`, serde and syn lose
/// features, and most of the dependency tree is compiled a second time. Resolved this way,
/// the build after the test build compiles nothing.
pub const BUILD_BINARIES: [&str; 4] = ["build", "--workspace", "--bins", "--examples"];

/// Runs [`BUILD_BINARIES`] (with `--release` when asked) for the workspace at `root` and
/// returns the directory holding the binaries.
pub fn build_binaries(root: &Path, release: bool) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build.current_dir(root).args(BUILD_BINARIES).arg("--quiet");
    if release {
        build.arg("--release");
    }
    let status = build
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building the workspace's binaries failed".into());
    }
    Ok(target_dir(root).join(if release { "release" } else { "debug" }))
}
