//! `scripts/local-stack.sh`: one command starts Azurite, the local Functions host with the
//! handler, and the web app; Ctrl-C (SIGINT to the foreground process group) stops them all.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn group_is_gone(pgid: u32) -> bool {
    // `kill -0 -PGID` fails once no process of the group is left.
    !Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn the_local_stack_starts_everything_and_ctrl_c_stops_everything() {
    // The script's build compiles nothing after this one, so the start-up deadline below
    // times the stack, not cargo (which, beside other tests on two cores, can take minutes).
    xtask::build_binaries(&repo(), false).unwrap();
    let (functions, web) = (free_port(), free_port());
    let (blob, queue, table) = (free_port(), free_port(), free_port());
    let mut child = Command::new(repo().join("scripts/local-stack.sh"))
        .env("FUNCTIONS_PORT", functions.to_string())
        .env("WEBAPP_PORT", web.to_string())
        .env("AZURITE_BLOB_PORT", blob.to_string())
        .env("AZURITE_QUEUE_PORT", queue.to_string())
        .env("AZURITE_TABLE_PORT", table.to_string())
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id();
    let client = reqwest::blocking::Client::new();
    let payload = r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#;
    let start = Instant::now();
    let (mut web_ok, mut functions_ok) = (false, false);
    while !(web_ok && functions_ok) {
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "the stack did not come up (web {web_ok}, functions {functions_ok})"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("local-stack.sh exited early with {status}");
        }
        web_ok = web_ok
            || client
                .get(format!("http://127.0.0.1:{web}/health"))
                .send()
                .is_ok_and(|r| r.status() == 200);
        functions_ok = functions_ok
            || client
                .post(format!("http://127.0.0.1:{functions}/api/predict"))
                .header("x-functions-key", "local-dev-key")
                .header("Content-Type", "application/json")
                .body(payload)
                .send()
                .is_ok_and(|r| r.status() == 200);
        std::thread::sleep(Duration::from_millis(200));
    }

    // Ctrl-C in a terminal signals the whole foreground process group.
    let sent = Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !group_is_gone(pgid) {
        assert!(
            Instant::now() < deadline,
            "processes of the stack are still running"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for port in [functions, web, blob, queue] {
        assert!(
            TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is still in use: something was left running"
        );
    }
    // Interrupted by the user, not crashed: the script exits with 130 (128 + SIGINT).
    assert_eq!(status.code(), Some(130), "{status}");
}

#[test]
fn the_local_stack_builds_as_the_tests_build() {
    // Built another way (`-p house-price-functions`), cargo would resolve other features and compile most
    // of the dependencies again, each time the script runs after the tests.
    let script = std::fs::read_to_string(repo().join("scripts/local-stack.sh")).unwrap();
    let builds: Vec<String> = script
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("cargo build"))
        .map(|l| {
            l.split_whitespace()
                .filter(|w| *w != "--quiet")
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let expected = [
        format!("cargo {}", xtask::BUILD_RELEASE_BINARIES.join(" ")),
        format!("cargo {}", xtask::BUILD_BINARIES.join(" ")),
    ];
    assert_eq!(builds, expected);
}

#[test]
fn the_example_local_settings_validate_against_the_public_schema() {
    let schema_path = repo().join("schemas/local.settings.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    let validator = jsonschema::draft4::new(&schema).unwrap();
    let settings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("local.settings.example.json")).unwrap(),
    )
    .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&settings)
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors, Vec::<String>::new());
    assert!(!validator.is_valid(&serde_json::json!({"IsEncrypted": "no"})));
}
