//! Bodies of forwarded requests (`enableForwardingHttpRequest`, the repository's host.json),
//! against the handler binary as the host runs it.
//!
//! The host lets bodies of up to 100 MB through to the handler (azure-functions-host
//! `ScriptConstants.DefaultMaxRequestBodySize`) and forwards them without their
//! `Content-Encoding` (`Extensions/HttpRequestExtensions.cs`, `ToHttpRequestMessage`: content
//! headers are refused by `TryAddWithoutValidation`, only Content-Type and Content-Length are
//! set again). So `predict` must refuse an oversized body from its head, and a compressed one
//! from its bytes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod support;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The handler binary with the repository's host.json (forwarding on), and its port.
fn start() -> (Killed, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let child = Killed(
        Command::new(env!("CARGO_BIN_EXE_handler"))
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("FUNCTIONS_APP_ROOT_PATH", root)
            .env("RUST_LOG", "warn")
            .env_remove("AzureWebJobsStorage")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::blocking::Client::new();
    support::wait_until_ready(&client, port);
    (child, port)
}

/// Sends `head` (and no body) and reads the status line of the answer, which must come
/// within 5 s: a server waiting for the body never answers.
fn status_from_head(port: u16, head: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no answer from the head alone: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or_default().to_owned()
}

/// The handler's peak resident memory (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

#[test]
fn an_oversized_or_encoded_body_is_refused_from_its_head_unread() {
    let (child, port) = start();
    let before = peak_rss(child.0.id());
    // Four at once, each declaring 96 MiB, none sending a byte of it.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                status_from_head(
                    port,
                    "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100663296\r\n\r\n",
                )
            })
        })
        .collect();
    for thread in threads {
        let status = thread.join().unwrap();
        assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    }
    // A status request has no use for a body: one declared anyway is refused unread.
    let status = status_from_head(
        port,
        "GET /api/jobs/0f8fad5b-d9cb-469f-a165-70867728950e HTTP/1.1\r\nHost: x\r\nContent-Length: 100663296\r\n\r\n",
    );
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    let status = status_from_head(
        port,
        "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 1000\r\n\r\n",
    );
    assert!(status.starts_with("HTTP/1.1 415"), "{status}");
    // The invocation endpoint too: the README promises 415 on every route.
    let status = status_from_head(
        port,
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 1000\r\n\r\n",
    );
    assert!(status.starts_with("HTTP/1.1 415"), "{status}");
    let grown = peak_rss(child.0.id()).saturating_sub(before);
    assert!(grown < 8 << 20, "the peak grew by {} MiB", grown >> 20);
}

/// A pandas body of about `bytes` (under the 1 MiB limit), of at most 10,000 rows (the
/// row limit).
fn near_limit_body(bytes: usize) -> String {
    let mut rows = 0;
    let cells = |name: &str, rows: usize, value: &str| -> String {
        let cells: Vec<String> = (0..rows).map(|i| format!("\"{i}\":{value}")).collect();
        format!("\"{name}\":{{{}}}", cells.join(","))
    };
    let body = |rows| {
        format!(
            "{{{},{},{},{},{},{}}}",
            cells("CHAS", rows, "0"),
            cells("RM", rows, "6.575"),
            cells("TAX", rows, "296.0"),
            cells("PTRATIO", rows, "15.3"),
            cells("B", rows, "396.9"),
            cells("LSTAT", rows, "4.98")
        )
    };
    while rows < 10_000 && body(rows + 500).len() < bytes {
        rows += 500;
    }
    body(rows)
}

#[test]
fn four_near_limit_bodies_at_once_stay_within_a_few_times_their_size() {
    let (child, port) = start();
    let body = near_limit_body(1000 << 10);
    assert!(
        body.len() > 600 << 10 && body.len() < 1 << 20,
        "{}",
        body.len()
    );
    let client = reqwest::blocking::Client::new();
    let post = |client: &reqwest::blocking::Client| {
        client
            .post(format!("http://127.0.0.1:{port}/api/predict"))
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    // Warm: the model's and the runtime's one-time allocations.
    assert_eq!(post(&client), 200);
    let before = peak_rss(child.0.id());
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| post(&reqwest::blocking::Client::new())))
            .collect();
        for run in runs {
            assert_eq!(run.join().unwrap(), 200);
        }
    });
    let grown = peak_rss(child.0.id()).saturating_sub(before);
    eprintln!(
        "four {} KiB bodies at once: the peak grew by {:.1} MiB",
        body.len() >> 10,
        grown as f64 / (1 << 20) as f64
    );
    assert!(
        grown < 6 * 4 * body.len() as u64,
        "the peak grew by {} MiB",
        grown >> 20
    );
}

#[test]
fn a_compressed_body_without_its_header_is_refused_with_415_by_its_bytes() {
    let (_child, port) = start();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(br#"{"CHAS":{"0":0},"RM":{"0":6.575},"TAX":{"0":296.0},"PTRATIO":{"0":15.3},"B":{"0":396.9},"LSTAT":{"0":4.98}}"#)
        .unwrap();
    let compressed = gzip.finish().unwrap();
    let client = reqwest::blocking::Client::new();
    for content_type in ["application/json", "text/csv"] {
        let response = client
            .post(format!("http://127.0.0.1:{port}/api/predict"))
            .header("Content-Type", content_type)
            .body(compressed.clone())
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 415, "{content_type}");
        let error: serde_json::Value = response.json().unwrap();
        assert_eq!(error["error"]["code"], "unsupported_encoding", "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("gzip"), "{message}");
        assert!(!message.contains("UTF-16"), "{message}");
    }
}
