//! A failed invocation's log lines reach the host. It discards `Logs` when the handler answers
//! non-2xx (`EnsureSuccessStatusCode` in DefaultHttpWorkerService.cs, a known complaint:
//! azure-functions-host #11086), but it collects the worker's stdout at Information and its
//! stderr at Error (`OnOutputDataReceived`, `ParseErrorMessageAndLog` in
//! Workers/ProcessManagement/WorkerProcess.cs).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;

#[test]
fn a_failed_invocation_s_reason_and_id_are_written_to_stderr() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_handler"))
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("RUST_LOG", "info")
        .env_remove("AzureWebJobsStorage")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::blocking::Client::new();
    support::wait_until_ready(&client, port);
    // A message with no jobId: the handler answers 500 so the host retries it.
    let invocation = r#"{"Data": {"job": "\"{}\"", "existing": "null", "rows": "null"}, "Metadata": {"DequeueCount": "1"}}"#;
    let response = client
        .post(format!("http://127.0.0.1:{port}/score-job"))
        .header("Content-Type", "application/json")
        .header(
            "X-Azure-Functions-InvocationId",
            "7d4c2e1a-0000-4000-8000-000000000001",
        )
        .body(invocation)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    child.wait().unwrap();
    let line = stderr
        .lines()
        .find(|l| l.contains("7d4c2e1a-0000-4000-8000-000000000001"))
        .unwrap_or_else(|| panic!("no line with the invocation id on stderr:\n{stderr}"));
    assert!(
        line.starts_with("score-job 7d4c2e1a-0000-4000-8000-000000000001: [ERROR] "),
        "{line}"
    );
    assert!(line.contains("no usable jobId"), "{line}");
}
