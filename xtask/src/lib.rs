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
