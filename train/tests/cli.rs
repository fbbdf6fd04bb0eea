//! The real `train` binary: writing, checking, and refusing bad input with one sentence.

use std::path::PathBuf;
use std::process::{Command, Output};

fn train(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_train"))
        .args(args)
        .output()
        .unwrap()
}

/// A fresh path in the temp dir, unique per test and process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("train-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("house-price-model.json")
}

fn stderr_sentence(out: &Output) -> String {
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn check_passes_on_the_committed_artifact_and_reports_the_metrics() {
    let out = train(&["--check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("CV RMSE") && stdout.contains("train RMSE"),
        "{stdout}"
    );
    assert!(stdout.contains("is up to date"), "{stdout}");
}

#[test]
fn out_writes_the_committed_bytes_to_another_path() {
    let path = scratch("write");
    let out = train(&["--out", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read(&path).unwrap();
    assert_eq!(written, house_price::model::EMBEDDED_ARTIFACT.as_bytes());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn check_fails_with_one_sentence_when_the_file_differs() {
    let path = scratch("differs");
    let stale = house_price::model::EMBEDDED_ARTIFACT.replacen("\"rows\": 506", "\"rows\": 505", 1);
    std::fs::write(&path, stale).unwrap();
    let out = train(&["--check", "--out", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_sentence(&out);
    assert!(err.contains("differs from what training produces"), "{err}");
    // Checking never writes.
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("\"rows\": 505")
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn check_fails_with_one_sentence_when_the_file_is_missing() {
    let out = train(&["--check", "--out", "/nonexistent/dir/model.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_sentence(&out).contains("cannot read /nonexistent/dir/model.json"));
}

#[test]
fn writing_into_a_missing_directory_fails_with_one_sentence() {
    let out = train(&["--out", "/nonexistent/dir/model.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_sentence(&out).contains("cannot write /nonexistent/dir/model.json"));
}

#[test]
fn unknown_arguments_are_refused_without_training() {
    let out = train(&["--fast"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(stderr_sentence(&out).contains("unexpected argument --fast"));
    let help = train(&["--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).starts_with("Usage: train"));
}
