//! Project tasks run with `cargo xtask <task>`.
#![warn(missing_docs)]

pub mod elf;
pub mod package;
