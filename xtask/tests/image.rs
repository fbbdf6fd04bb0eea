//! `xtask::image`: the archive is an OCI image layout that podman and registries read, holds
//! the binary and nothing else, runs as a numeric non-root user, and is byte for byte the
//! same when built twice from the same input.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde_json::Value;
use xtask::image::{self, ImageMeta};

fn meta() -> ImageMeta {
    ImageMeta {
        version: "0.1.0".into(),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        created: 1_796_144_645,
        source: image::SOURCE.into(),
    }
}

/// Every file of a tar, by name, with its mode.
fn files(tar_bytes: &[u8]) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mode = entry.header().mode().unwrap();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        out.insert(name, (mode, content));
    }
    out
}

fn blob(layout: &BTreeMap<String, (u32, Vec<u8>)>, digest: &str) -> Vec<u8> {
    let name = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    layout[&name].1.clone()
}

#[test]
fn the_image_is_reproducible_and_holds_only_the_binary_run_as_non_root() {
    let dir = std::env::temp_dir().join(format!("xtask-image-{}", std::process::id()));
    let binary = dir.join("webapp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&binary, b"\x7fELF not really a binary, but bytes to pack").unwrap();
    let first = image::build(&binary, &meta(), &dir.join("a/image.tar")).unwrap();
    let second = image::build(&binary, &meta(), &dir.join("b/image.tar")).unwrap();
    let bytes = std::fs::read(&first.archive).unwrap();
    assert_eq!(first.digest, second.digest);
    assert!(
        bytes == std::fs::read(&second.archive).unwrap(),
        "two builds differ"
    );

    let layout = files(&bytes);
    assert_eq!(layout["oci-layout"].1, br#"{"imageLayoutVersion":"1.0.0"}"#);
    let index: Value = serde_json::from_slice(&layout["index.json"].1).unwrap();
    let tags: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        tags,
        [
            "house-price-webapp:0.1.0",
            "house-price-webapp:0123456789abcdef0123456789abcdef01234567"
        ]
    );
    assert_eq!(index["manifests"][0]["digest"], first.digest.as_str());

    let manifest: Value = serde_json::from_slice(&blob(&layout, &first.digest)).unwrap();
    let config: Value = serde_json::from_slice(&blob(
        &layout,
        manifest["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    let run = &config["config"];
    assert_eq!(run["User"], "65532:65532");
    assert_eq!(
        run["Entrypoint"],
        serde_json::json!(["/app/webapp"]),
        "no shell in between"
    );
    assert!(run.get("Cmd").is_none());
    assert_eq!(run["Env"], serde_json::json!(["PORT=8080"]));
    assert!(run["ExposedPorts"]["8080/tcp"].is_object());
    let labels = &run["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.revision"],
        meta().commit.as_str()
    );
    assert_eq!(labels["org.opencontainers.image.licenses"], "MIT");
    assert!(
        labels["org.opencontainers.image.source"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );

    // The one layer: the binary, executable, and nothing else (no shell, no package manager).
    let layer_descriptor = &manifest["layers"][0];
    assert_eq!(
        layer_descriptor["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let compressed = blob(&layout, layer_descriptor["digest"].as_str().unwrap());
    assert_eq!(compressed.len() as u64, first.compressed_bytes);
    let mut layer = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut layer)
        .unwrap();
    let contents = files(&layer);
    assert_eq!(contents.keys().collect::<Vec<_>>(), ["app/", "app/webapp"]);
    assert_eq!(contents["app/webapp"].0 & 0o777, 0o755);
    assert_eq!(contents["app/webapp"].1, std::fs::read(&binary).unwrap());
    // The config names the uncompressed layer.
    let diff_id = format!("sha256:{}", sha256_hex(&layer));
    assert_eq!(config["rootfs"]["diff_ids"][0], diff_id.as_str());
    std::fs::remove_dir_all(Path::new(&dir)).unwrap();
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}
