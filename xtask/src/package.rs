//! `cargo xtask package`: the two deployable zips, built the same way by people and by
//! the pipeline, and checked before they are written so a broken package never ships.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use zip::write::SimpleFileOptions;

use crate::elf;

/// Azure runs x86_64 Linux; a static musl binary runs on any image App Service or
/// Functions uses, with no glibc version to match.
pub const TARGET: &str = "x86_64-unknown-linux-musl";

/// The startup script App Service runs; `exec` so the server is PID 1's child that gets SIGTERM.
pub const STARTUP_SCRIPT: &str = "#!/bin/sh\n\
# App Service runs this as the startup command. exec replaces the shell, so the\n\
# platform's SIGTERM reaches the server and it can finish in-flight requests.\n\
exec \"$(dirname \"$0\")/webapp\" \"$@\"\n";

/// Where the zips go and how they are built.
#[derive(Debug, Clone)]
pub struct Options {
    /// The workspace root.
    pub root: PathBuf,
    /// Output directory for `functionapp.zip` and `webapp.zip`.
    pub out: PathBuf,
    /// Skip `cargo build` and package what is already built.
    pub skip_build: bool,
}

/// One file inside a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the zip.
    pub name: String,
    /// Unix mode bits stored in the zip (what Azure's unzip restores).
    pub mode: u32,
    /// Uncompressed size.
    pub size: u64,
}

/// What `package` produced.
#[derive(Debug)]
pub struct Packages {
    /// `functionapp.zip`.
    pub functionapp: PathBuf,
    /// `webapp.zip`.
    pub webapp: PathBuf,
}

type Result<T> = std::result::Result<T, String>;

fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed with {status}"))
    }
}

/// Reads the handler's path from `host.json`, as the Functions host will.
pub fn handler_path(host_json: &Path) -> Result<String> {
    let text = fs::read_to_string(host_json)
        .map_err(|e| format!("cannot read {}: {e}", host_json.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid JSON: {e}", host_json.display()))?;
    let path = v
        .pointer("/customHandler/description/defaultExecutablePath")
        .and_then(|p| p.as_str())
        .ok_or_else(|| {
            format!(
                "{} has no customHandler.description.defaultExecutablePath",
                host_json.display()
            )
        })?;
    if path.starts_with('/') || path.contains("..") || path.contains('\\') {
        return Err(format!(
            "{}: defaultExecutablePath \"{path}\" must be a plain path inside the app",
            host_json.display()
        ));
    }
    Ok(path.to_owned())
}

/// Refuses a binary that is not a static, stripped x86_64 executable.
pub fn check_binary(path: &Path) -> Result<()> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let facts = elf::inspect(&bytes)
        .ok_or_else(|| format!("{} is not a 64-bit ELF executable", path.display()))?;
    if !facts.x86_64 {
        return Err(format!("{} is not an x86_64 binary", path.display()));
    }
    if facts.has_interpreter {
        return Err(format!(
            "{} is dynamically linked; build it for {TARGET}",
            path.display()
        ));
    }
    if facts.has_symtab {
        return Err(format!(
            "{} is not stripped; the release profile must strip it",
            path.display()
        ));
    }
    // jemalloc's messages are in every binary that links it (webapp/src/main.rs says why).
    if !bytes.windows(11).any(|w| w == b"<jemalloc>:") {
        return Err(format!(
            "{} does not allocate with jemalloc; musl's own allocator is five times slower under load",
            path.display()
        ));
    }
    Ok(())
}

fn zip_dir(files: &[(String, PathBuf, u32)], out: &Path) -> Result<()> {
    let file =
        fs::File::create(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    for (name, source, mode) in files {
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(*mode);
        let bytes =
            fs::read(source).map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        zip.start_file(name.as_str(), options)
            .and_then(|()| zip.write_all(&bytes).map_err(Into::into))
            .map_err(|e| format!("cannot add {name} to {}: {e}", out.display()))?;
    }
    zip.finish()
        .map_err(|e| format!("cannot finish {}: {e}", out.display()))?;
    Ok(())
}

/// Lays out a function app directory exactly as Azure runs it: `host.json`, one folder per
/// function with the `function.json` the handler generates, and the handler binary at the
/// path `host.json` names. Returns every file with its mode, in a stable order.
pub fn stage_functionapp(
    root: &Path,
    handler: &Path,
    dir: &Path,
) -> Result<Vec<(String, PathBuf, u32)>> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // function.json comes from the code that serves the functions, so they cannot drift.
    run(Command::new(handler).args(["manifest", "--out"]).arg(dir))?;
    let host_json = root.join("host.json");
    let exe_path = handler_path(&host_json)?;
    fs::copy(&host_json, dir.join("host.json"))
        .map_err(|e| format!("cannot copy {}: {e}", host_json.display()))?;
    let exe = dir.join(&exe_path);
    if let Some(parent) = exe.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    fs::copy(handler, &exe).map_err(|e| format!("cannot copy {}: {e}", handler.display()))?;
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot chmod {}: {e}", exe.display()))?;

    let mut files = vec![("host.json".to_owned(), dir.join("host.json"), 0o644)];
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("function.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        return Err("the handler's manifest declared no functions".into());
    }
    for name in &names {
        files.push((
            format!("{name}/function.json"),
            dir.join(name).join("function.json"),
            0o644,
        ));
    }
    files.push((exe_path, exe, 0o755));
    Ok(files)
}

/// Builds both packages into `options.out`.
pub fn package(options: &Options) -> Result<Packages> {
    let root = &options.root;
    if !options.skip_build {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        run(Command::new(cargo)
            .current_dir(root)
            .args(["build", "--release", "--locked", "--target", TARGET])
            .args(["-p", "house-price-functions", "-p", "webapp"]))?;
    }
    let bin_dir = crate::target_dir(root).join(TARGET).join("release");
    let handler = bin_dir.join("handler");
    let webapp = bin_dir.join("webapp");
    check_binary(&handler)?;
    check_binary(&webapp)?;

    let staging = options.out.join("staging");
    if staging.exists() {
        fs::remove_dir_all(&staging)
            .map_err(|e| format!("cannot clear {}: {e}", staging.display()))?;
    }
    let files = stage_functionapp(root, &handler, &staging.join("functionapp"))?;

    let startup = staging.join("startup.sh");
    fs::write(&startup, STARTUP_SCRIPT)
        .map_err(|e| format!("cannot write {}: {e}", startup.display()))?;
    let web_files = vec![
        ("webapp".to_owned(), webapp, 0o755),
        ("startup.sh".to_owned(), startup, 0o755),
    ];

    let packages = Packages {
        functionapp: options.out.join("functionapp.zip"),
        webapp: options.out.join("webapp.zip"),
    };
    zip_dir(&files, &packages.functionapp)?;
    zip_dir(&web_files, &packages.webapp)?;
    fs::remove_dir_all(&staging).map_err(|e| format!("cannot clear {}: {e}", staging.display()))?;
    Ok(packages)
}

/// Lists a zip's files with their stored modes.
pub fn entries(zip_path: &Path) -> Result<Vec<Entry>> {
    let file =
        fs::File::open(zip_path).map_err(|e| format!("cannot open {}: {e}", zip_path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| format!("{} is not a zip: {e}", zip_path.display()))?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let f = archive
            .by_index(i)
            .map_err(|e| format!("{}: entry {i}: {e}", zip_path.display()))?;
        out.push(Entry {
            name: f.name().map(|n| n.into_owned()).unwrap_or_default(),
            mode: f.unix_mode().unwrap_or(0) & 0o7777,
            size: f.size(),
        });
    }
    Ok(out)
}

/// Unpacks a zip restoring the stored modes, as Azure's deployment does.
pub fn unpack(zip_path: &Path, dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let file =
        fs::File::open(zip_path).map_err(|e| format!("cannot open {}: {e}", zip_path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| format!("{} is not a zip: {e}", zip_path.display()))?;
    for i in 0..archive.len() {
        let mut f = archive
            .by_index(i)
            .map_err(|e| format!("{}: entry {i}: {e}", zip_path.display()))?;
        let name = f.name().map(|n| n.into_owned()).unwrap_or_default();
        let Some(relative) = f.enclosed_name() else {
            return Err(format!("{} has an unsafe path {name}", zip_path.display()));
        };
        let target = dir.join(relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read {name} from the zip: {e}"))?;
        fs::write(&target, bytes).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        if let Some(mode) = f.unix_mode() {
            fs::set_permissions(&target, fs::Permissions::from_mode(mode & 0o7777))
                .map_err(|e| format!("cannot chmod {}: {e}", target.display()))?;
        }
    }
    Ok(())
}
