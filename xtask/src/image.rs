//! The web app as an OCI image, written without a container daemon, as `ko` and `jib` do: one
//! layer tarball holding the static binary, an image config and a manifest, in an OCI image
//! layout packed as one tar (an `oci-archive:` for podman, skopeo and `az acr import`).
//!
//! Reproducible: every timestamp is the commit's time, entries are sorted, owners are 0 and
//! gzip carries no name or time, so the same commit gives the same bytes and digest.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Errors are one sentence for the command line.
type Result<T> = std::result::Result<T, String>;

/// The image's repository name; the archive's references are `NAME:<version>` and
/// `NAME:<commit>`, full references so `podman pull oci-archive:...:NAME:<tag>` names it.
pub const NAME: &str = "house-price-webapp";
/// Where the binary sits in the image, and its entrypoint.
pub const ENTRYPOINT: &str = "/app/webapp";
/// The numeric non-root user the image runs as (the "nonroot" id of distroless images).
pub const USER: &str = "65532:65532";
/// The port the web app listens on unless `PORT` says otherwise.
pub const PORT: u16 = 8080;

/// What the image says about itself.
#[derive(Debug, Clone)]
pub struct ImageMeta {
    /// The crate version, the first tag.
    pub version: String,
    /// The git commit: the second tag and the revision label.
    pub commit: String,
    /// The commit's time (seconds since 1970), used for every timestamp.
    pub created: u64,
    /// The repository URL for the source label.
    pub source: String,
}

/// A written image.
#[derive(Debug, Clone)]
pub struct Image {
    /// The OCI archive.
    pub archive: PathBuf,
    /// The manifest's digest, `sha256:...`: what a registry would call the image.
    pub digest: String,
    /// The compressed layer's size, what a pull downloads.
    pub compressed_bytes: u64,
    /// Its references in the archive: `NAME:<version>`, then `NAME:<commit>`.
    pub references: [String; 2],
}

/// The files the web app's image holds: the binary, mode 0755, and nothing else.
fn layer(binary: &[u8], created: u64) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    let dir = |path: &str| -> Result<tar::Header> {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_path(path).map_err(|e| e.to_string())?;
        header.set_mode(0o755);
        header.set_mtime(created);
        header.set_size(0);
        header.set_cksum();
        Ok(header)
    };
    let header = dir("app/")?;
    tar.append(&header, std::io::empty())
        .map_err(|e| e.to_string())?;
    let mut header = tar::Header::new_ustar();
    header
        .set_path(ENTRYPOINT.trim_start_matches('/'))
        .map_err(|e| e.to_string())?;
    header.set_mode(0o755);
    header.set_mtime(created);
    header.set_size(binary.len() as u64);
    header.set_cksum();
    tar.append(&header, binary).map_err(|e| e.to_string())?;
    tar.into_inner().map_err(|e| e.to_string())
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    // No file name and a zero time in the header: the same input gives the same bytes.
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).map_err(|e| e.to_string())?;
    encoder.finish().map_err(|e| e.to_string())
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn rfc3339(seconds: u64) -> String {
    // Civil date from days since 1970 (Howard Hinnant's algorithm), to avoid a time crate.
    let days = (seconds / 86_400) as i64;
    let rem = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The image config: how the runtime starts the binary.
fn config(meta: &ImageMeta, diff_id: &str) -> Value {
    json!({
        "created": rfc3339(meta.created),
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": USER,
            "Entrypoint": [ENTRYPOINT],
            "Env": [format!("PORT={PORT}")],
            "ExposedPorts": { format!("{PORT}/tcp"): {} },
            "Labels": labels(meta),
        },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created": rfc3339(meta.created), "created_by": "cargo xtask image" }],
    })
}

fn labels(meta: &ImageMeta) -> Value {
    json!({
        "org.opencontainers.image.title": "house-price web app",
        "org.opencontainers.image.version": meta.version,
        "org.opencontainers.image.revision": meta.commit,
        "org.opencontainers.image.source": meta.source,
        "org.opencontainers.image.licenses": "MIT",
        "org.opencontainers.image.created": rfc3339(meta.created),
    })
}

/// Writes the image of `binary` to `archive`; its two tags are the version and the commit.
pub fn build(binary: &Path, meta: &ImageMeta, archive: &Path) -> Result<Image> {
    let bytes = fs::read(binary).map_err(|e| format!("cannot read {}: {e}", binary.display()))?;
    let layer = layer(&bytes, meta.created)?;
    let diff_id = sha256(&layer);
    let compressed = gzip(&layer)?;
    let layer_digest = sha256(&compressed);
    let config = serde_json::to_vec(&config(meta, &diff_id)).map_err(|e| e.to_string())?;
    let config_digest = sha256(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer_digest,
            "size": compressed.len(),
        }],
        "annotations": labels(meta),
    }))
    .map_err(|e| e.to_string())?;
    let digest = sha256(&manifest);
    let tags = [meta.version.as_str(), meta.commit.as_str()].map(|tag| format!("{NAME}:{tag}"));
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": tags.iter().map(|tag| json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": manifest.len(),
            "annotations": { "org.opencontainers.image.ref.name": tag },
        })).collect::<Vec<_>>(),
    }))
    .map_err(|e| e.to_string())?;

    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".into(), index),
        (blob_path(&digest), manifest),
        (blob_path(&config_digest), config),
        (blob_path(&layer_digest), compressed.clone()),
    ];
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    for (name, content) in &files {
        let mut header = tar::Header::new_ustar();
        header.set_path(name).map_err(|e| e.to_string())?;
        header.set_mode(0o644);
        header.set_mtime(meta.created);
        header.set_size(content.len() as u64);
        header.set_cksum();
        tar.append(&header, &content[..])
            .map_err(|e| e.to_string())?;
    }
    let packed = tar.into_inner().map_err(|e| e.to_string())?;
    if let Some(dir) = archive.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    fs::write(archive, packed).map_err(|e| format!("cannot write {}: {e}", archive.display()))?;
    Ok(Image {
        archive: archive.to_path_buf(),
        digest,
        compressed_bytes: compressed.len() as u64,
        references: tags,
    })
}

/// Builds the static web app (unless `skip_build`) and writes its image to
/// `out/webapp-image.oci.tar`, tagged with the crate version and the commit of `root`.
pub fn build_webapp(root: &Path, out: &Path, skip_build: bool) -> Result<Image> {
    use crate::package::TARGET;
    if !skip_build {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .current_dir(root)
            .args([
                "build",
                "--release",
                "--locked",
                "--target",
                TARGET,
                "-p",
                "webapp",
            ])
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("building the web app failed".into());
        }
    }
    let binary = crate::target_dir(root)
        .join(TARGET)
        .join("release")
        .join("webapp");
    crate::package::check_binary(&binary)?;
    let git = |args: &[&str]| -> Result<String> {
        let output = std::process::Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "git {} failed: the image is tagged with the commit",
                args.join(" ")
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let meta = ImageMeta {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        commit: git(&["rev-parse", "HEAD"])?,
        created: git(&["log", "-1", "--format=%ct"])?
            .parse()
            .map_err(|_| "git gave no commit time".to_owned())?,
        source: std::env::var("IMAGE_SOURCE").unwrap_or_else(|_| SOURCE.to_owned()),
    };
    build(&binary, &meta, &out.join("webapp-image.oci.tar"))
}

/// The source label unless `IMAGE_SOURCE` names the repository's URL.
pub const SOURCE: &str = "https://github.com/house-price/house-price";

fn blob_path(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_144_645), "2026-12-01T17:04:05Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
