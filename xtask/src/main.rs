//! `cargo xtask package [--out DIR] [--skip-build]`

use std::path::PathBuf;
use std::process::ExitCode;

use xtask::package::{self, Options};

const USAGE: &str = "usage: cargo xtask package [--out DIR] [--skip-build]";

fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        out: root.join("dist"),
        root,
        skip_build: false,
    };
    match args.next().as_deref() {
        Some("package") => {}
        Some("--help" | "-h") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("unknown task \"{other}\"; {USAGE}");
            return ExitCode::FAILURE;
        }
    }
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => match args.next() {
                Some(dir) => options.out = PathBuf::from(dir),
                None => {
                    eprintln!("--out needs a directory; {USAGE}");
                    return ExitCode::FAILURE;
                }
            },
            "--skip-build" => options.skip_build = true,
            other => {
                eprintln!("unknown argument \"{other}\"; {USAGE}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Err(e) = std::fs::create_dir_all(&options.out) {
        eprintln!("cannot create {}: {e}", options.out.display());
        return ExitCode::FAILURE;
    }
    match package::package(&options) {
        Ok(p) => {
            for zip in [&p.functionapp, &p.webapp] {
                let size = std::fs::metadata(zip).map(|m| m.len()).unwrap_or(0);
                println!("{} ({:.1} MB)", zip.display(), size as f64 / 1e6);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
