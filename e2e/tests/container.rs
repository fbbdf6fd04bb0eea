//! The web app's container image, run with podman as Container Apps runs it: both the image
//! `cargo xtask image` writes and the one the root `Containerfile` builds. Through each
//! container: `/health`, `/predict` with the original client's payload, a read-only root
//! filesystem, the numeric non-root user, and SIGTERM during a request (it finishes, then the
//! container exits 0 within 5 s). podman runs through `scripts/podman.sh`, which holds the
//! settings it needs here; `scripts/install-podman.sh` installs it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use drain::loader::HalfSent;
use house_price::Model;
use house_price::api::{self, Limits};

const ORIGINAL_CLIENT_PAYLOAD: &str =
    include_str!("../../webapp/tests/data/original_client_payload.json");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `scripts/podman.sh` with `args`; panics with podman's words if it fails.
fn podman(args: &[&str]) -> String {
    let output = podman_output(args);
    assert!(
        output.status.success(),
        "podman {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn podman_output(args: &[&str]) -> Output {
    Command::new(repo().join("scripts/podman.sh"))
        .args(args)
        .output()
        .expect("scripts/podman.sh runs")
}

/// Removes the container (and its image, when asked) however the test ends.
struct Cleanup {
    container: String,
    image: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = podman_output(&["rm", "--force", "--time", "0", &self.container]);
        if let Some(image) = &self.image {
            let _ = podman_output(&["rmi", "--force", image]);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `/health` until it answers 200.
fn wait_healthy(port: u16, container: &str) {
    let client = reqwest::blocking::Client::new();
    let start = Instant::now();
    loop {
        match client
            .get(format!("http://127.0.0.1:{port}/health"))
            .timeout(Duration::from_secs(2))
            .send()
        {
            Ok(r) if r.status() == 200 => return,
            _ if start.elapsed() < Duration::from_secs(30) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => panic!(
                "/health never answered 200 through the container: {other:?}\n{}",
                podman(&["logs", container])
            ),
        }
    }
}

/// Runs `image` read-only on the host's loopback and checks everything the issue names.
fn check_runs_as_container_apps_runs_it(image: &str) {
    let port = free_port();
    let container = format!("webapp-test-{}", uuid::Uuid::new_v4());
    let _cleanup = Cleanup {
        container: container.clone(),
        image: Some(image.to_owned()),
    };
    // --read-only-tmpfs=false: not even /tmp is writable, so nothing may need to write.
    podman(&[
        "run",
        "--detach",
        "--name",
        &container,
        "--network",
        "host",
        "--read-only",
        "--read-only-tmpfs=false",
        "--env",
        &format!("PORT={port}"),
        "--env",
        "BIND_ADDRESS=127.0.0.1",
        image,
    ]);
    wait_healthy(port, &container);

    // The process is the binary itself (PID 1 in the container) under the numeric user.
    let pid = podman(&["inspect", "--format", "{{.State.Pid}}", &container]);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid.split_whitespace().nth(1),
        Some("65532"),
        "{uid}: the server does not run as 65532"
    );
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(exe.ends_with("app/webapp"), "{exe:?}");

    // The original client's request gets the same answer as the model in process.
    let model = Model::embedded().unwrap();
    let expected = api::predict(
        &model,
        &Limits::default(),
        Some("application/json"),
        ORIGINAL_CLIENT_PAYLOAD.as_bytes(),
    )
    .unwrap();
    let answer = reqwest::blocking::Client::new()
        .post(format!("http://127.0.0.1:{port}/predict"))
        .header("Content-Type", "application/json")
        .body(ORIGINAL_CLIENT_PAYLOAD)
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.bytes().unwrap(), expected.body);

    // SIGTERM while a request's body is half sent: it still gets its answer, then the
    // container exits 0 within the 5 s Container Apps and App Service allow.
    let request = HalfSent::start(port, ORIGINAL_CLIENT_PAYLOAD.as_bytes()).unwrap();
    let signalled = Instant::now();
    podman(&["kill", "--signal", "TERM", &container]);
    std::thread::sleep(Duration::from_millis(300));
    let response = request.finish().unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.ends_with(std::str::from_utf8(&expected.body).unwrap()),
        "{response}"
    );
    let exit = podman(&["wait", &container]);
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "the container took {:?} to exit after SIGTERM",
        signalled.elapsed()
    );
    assert_eq!(exit, "0", "{}", podman(&["logs", &container]));
}

#[test]
fn the_xtask_image_runs_read_only_as_non_root_and_stops_cleanly_on_sigterm() {
    let out = std::env::temp_dir().join(format!("e2e-image-{}", uuid::Uuid::new_v4()));
    let image = xtask::image::build_webapp(&repo(), &out, false).unwrap();
    let reference = &image.references[1];
    let source = format!("oci-archive:{}:{reference}", image.archive.display());
    podman(&["pull", "--quiet", &source]);
    let _ = std::fs::remove_dir_all(&out);
    check_runs_as_container_apps_runs_it(&format!("localhost/{reference}"));
}

#[test]
fn the_containerfile_builds_an_image_that_runs_the_same_way() {
    // The Containerfile packs the binary cargo built, as the xtask image does.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .current_dir(repo())
        .args([
            "build",
            "--quiet",
            "--release",
            "--locked",
            "--target",
            xtask::package::TARGET,
            "-p",
            "webapp",
        ])
        .status()
        .unwrap();
    assert!(built.success());
    let tag = format!(
        "localhost/webapp-containerfile-test:{}",
        uuid::Uuid::new_v4()
    );
    let repo = repo();
    podman(&[
        "build",
        "--quiet",
        // No intermediate images left behind once the tag is removed.
        "--layers=false",
        "--file",
        repo.join("Containerfile").to_str().unwrap(),
        "--tag",
        &tag,
        repo.to_str().unwrap(),
    ]);
    let config = podman(&["image", "inspect", "--format", "{{json .Config}}", &tag]);
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["User"], "65532:65532");
    assert_eq!(config["Entrypoint"], serde_json::json!(["/app/webapp"]));
    assert!(
        config["Env"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("PORT=8080")),
        "{config}"
    );
    check_runs_as_container_apps_runs_it(&tag);
}
