//! `cargo xtask package [--out DIR] [--skip-build]`: the deployable zips, into dist/.
//! `cargo xtask app-dir [--out DIR] [--release] [--skip-build]`: the function app layout,
//! unzipped, for the local host (target/functionapp by default).
//! `cargo xtask image [--out DIR] [--skip-build]`: the web app's OCI image, as an archive in
//! dist/ (see `xtask::image`).

use std::path::PathBuf;
use std::process::ExitCode;

use xtask::package::{self, Options};

const USAGE: &str = "usage: cargo xtask package [--out DIR] [--skip-build] | cargo xtask app-dir [--out DIR] [--release] [--skip-build] | cargo xtask image [--out DIR] [--skip-build]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => ("--help", &[][..]),
    };
    let mut out = None;
    let mut skip_build = false;
    let mut release = false;
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out" => {
                out = Some(PathBuf::from(
                    it.next()
                        .ok_or(format!("--out needs a directory; {USAGE}"))?,
                ))
            }
            "--skip-build" => skip_build = true,
            "--release" if task == "app-dir" => release = true,
            other => return Err(format!("unknown argument \"{other}\"; {USAGE}")),
        }
    }
    match task {
        "package" => {
            let options = Options {
                out: out.unwrap_or_else(|| root.join("dist")),
                root,
                skip_build,
            };
            std::fs::create_dir_all(&options.out)
                .map_err(|e| format!("cannot create {}: {e}", options.out.display()))?;
            let p = package::package(&options)?;
            for zip in [&p.functionapp, &p.webapp] {
                let size = std::fs::metadata(zip).map(|m| m.len()).unwrap_or(0);
                println!("{} ({:.1} MB)", zip.display(), size as f64 / 1e6);
            }
            Ok(())
        }
        "app-dir" => {
            let handler = if skip_build {
                let profile = if release { "release" } else { "debug" };
                xtask::target_dir(&root).join(profile)
            } else {
                xtask::build_binaries(&root, release)?
            }
            .join("handler");
            let dir = out.unwrap_or_else(|| xtask::target_dir(&root).join("functionapp"));
            package::stage_functionapp(&root, &handler, &dir)?;
            println!("{}", dir.display());
            Ok(())
        }
        "image" => {
            let out = out.unwrap_or_else(|| root.join("dist"));
            let image = xtask::image::build_webapp(&root, &out, skip_build)?;
            println!(
                "{} ({:.1} MB compressed), {}, tagged {}",
                image.archive.display(),
                image.compressed_bytes as f64 / 1e6,
                image.digest,
                image.references.join(" and ")
            );
            Ok(())
        }
        "--help" | "-h" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown task \"{other}\"; {USAGE}")),
    }
}
