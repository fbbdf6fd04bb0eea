//! The real binary refuses bad configuration with one sentence on stderr and exit code 1.

use std::process::{Command, Output, Stdio};

use crate::helpers::{TempDir, free_port};

fn run_binary(vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_webapp"));
    command
        .env_remove("MODEL_PATH")
        .env_remove("AzureWebJobsStorage")
        .env_remove("AzureWebJobsStorage__accountName")
        .env_remove("AzureWebJobsStorage__blobServiceUri")
        .env_remove("AzureWebJobsStorage__queueServiceUri")
        .env("BIND_ADDRESS", "127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn assert_refused(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one sentence, got {stderr:?}");
    stderr
}

#[test]
fn the_binary_exits_1_with_one_sentence_when_port_is_not_a_port() {
    let stderr = assert_refused(&run_binary(&[("PORT", "http")]));
    assert_eq!(
        stderr.trim_end(),
        "PORT must be a port number from 0 to 65535, but it is \"http\""
    );
    assert_refused(&run_binary(&[("PORT", "65536")]));
}

#[test]
fn the_binary_exits_1_with_one_sentence_when_the_model_file_is_not_a_model() {
    let dir = TempDir::new("webapp-bad-model");
    let path = dir.0.join("model.json");
    std::fs::write(&path, r#"{"schema_version": 1, "trees": []}"#).unwrap();
    let port = free_port().to_string();
    let stderr = assert_refused(&run_binary(&[
        ("PORT", &port),
        ("MODEL_PATH", path.to_str().unwrap()),
    ]));
    assert!(
        stderr.starts_with("cannot load the model (MODEL_PATH="),
        "{stderr}"
    );

    let missing = dir.0.join("missing.json");
    let stderr = assert_refused(&run_binary(&[
        ("PORT", &port),
        ("MODEL_PATH", missing.to_str().unwrap()),
    ]));
    assert!(stderr.contains("missing.json"), "{stderr}");
}

#[test]
fn the_binary_exits_1_with_one_sentence_when_the_port_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let stderr = assert_refused(&run_binary(&[("PORT", &port)]));
    assert!(
        stderr.starts_with(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn the_binary_exits_1_with_one_sentence_when_the_storage_connection_is_unusable() {
    let port = free_port().to_string();
    let stderr = assert_refused(&run_binary(&[
        ("PORT", &port),
        ("AzureWebJobsStorage", "AccountName=devstoreaccount1"),
    ]));
    assert!(stderr.starts_with("AzureWebJobsStorage "), "{stderr}");
    let stderr = assert_refused(&run_binary(&[
        ("PORT", &port),
        ("AzureWebJobsStorage__queueServiceUri", "not a url"),
    ]));
    assert!(stderr.starts_with("AzureWebJobsStorage__"), "{stderr}");
}
