//! Loads the bad-input corpus. Included with `#[path]` by the web app's suite
//! (`webapp/tests/api/bad_input.rs`) and the Functions app's (`e2e/tests/serverless/bad_input.rs`,
//! `handler/tests/contract/protocol_garbage.rs`), so both apps are held to the same files.

#![allow(dead_code)] // each suite uses the part that applies to it

use serde_json::Value;
use std::path::{Path, PathBuf};

/// A request body and what both apps must answer it.
#[derive(Debug, Clone)]
pub struct BodyCase {
    /// The case, named for what the body holds.
    pub name: String,
    /// The exact bytes sent.
    pub body: Vec<u8>,
    /// The `Content-Type` sent.
    pub content_type: String,
    /// The status expected.
    pub status: u16,
    /// The error code expected when `status` is not 2xx.
    pub code: Option<String>,
    /// A part the error message must contain.
    pub message_contains: Option<String>,
    /// What a function of the Functions app answers instead, by function name, where the
    /// host changes the request first.
    pub functions_host: std::collections::BTreeMap<String, Expected>,
}

/// An answer other than the web app's, because of what the Functions host (or Kestrel in
/// front of it) does to a request before the handler sees it.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The status.
    pub status: u16,
    /// The error code, if the answer is the JSON error shape.
    pub code: Option<String>,
    /// Whether the answer is ours (JSON) rather than the host's or Kestrel's.
    pub json: bool,
}

fn expected_one(host: &Value) -> Expected {
    Expected {
        status: status(host),
        code: host["code"].as_str().map(str::to_owned),
        json: host["json"].as_bool().unwrap_or(true),
    }
}

fn expected(case: &Value) -> Option<Expected> {
    case.get("functions_host").map(expected_one)
}

fn expected_by_function(case: &Value) -> std::collections::BTreeMap<String, Expected> {
    case["functions_host"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), expected_one(v)))
                .collect()
        })
        .unwrap_or_default()
}

impl BodyCase {
    /// Whether the body holds at least one row; a valid batch with none is a prediction of
    /// nothing but no job at all.
    pub fn body_has_rows(&self) -> bool {
        !matches!(self.name.as_str(), "csv_header_only")
    }
}

/// A job-status path and what it must answer.
#[derive(Debug, Clone)]
pub struct IdCase {
    /// The path as sent, from `/jobs/`, percent-escapes and all.
    pub path: String,
    /// The status expected.
    pub status: u16,
    /// The error code expected.
    pub code: String,
    /// What the Functions app answers instead (see [`Expected`]).
    pub functions_host: Option<Expected>,
}

/// Raw bytes sent on a fresh connection.
#[derive(Debug, Clone)]
pub struct ProtocolCase {
    /// The file name without `.http`.
    pub name: String,
    /// The bytes sent.
    pub bytes: Vec<u8>,
    /// The status expected.
    pub status: u16,
    /// The error code expected, for an error.
    pub code: Option<String>,
    /// Whether a route answers, rather than actix-http's dispatcher before any route runs
    /// (its answers are made JSON by `serve::fixed_answers`; see README.md).
    pub answered_by_app: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bad-input")
}

fn read_json(name: &str) -> Vec<Value> {
    let path = root().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Vec<Value> = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not a JSON array: {e}", path.display()));
    assert!(cases.len() >= 5, "{} is nearly empty", path.display());
    cases
}

fn text(case: &Value, key: &str) -> String {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: no string `{key}`"))
        .to_owned()
}

fn status(case: &Value) -> u16 {
    case["status"]
        .as_u64()
        .unwrap_or_else(|| panic!("{case}: no status")) as u16
}

/// Every case of `bodies.json`, its body read from `bodies/`.
pub fn body_cases() -> Vec<BodyCase> {
    read_json("bodies.json")
        .iter()
        .map(|case| {
            let file = root().join("bodies").join(text(case, "body"));
            BodyCase {
                name: text(case, "name"),
                body: std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())),
                content_type: text(case, "content_type"),
                status: status(case),
                code: case["code"].as_str().map(str::to_owned),
                message_contains: case["message_contains"].as_str().map(str::to_owned),
                functions_host: expected_by_function(case),
            }
        })
        .collect()
}

/// The limits, exactly and one past them: too big to keep as files, so made here.
pub fn limit_cases(max_body_bytes: usize, max_rows: usize) -> Vec<BodyCase> {
    const ROW: &str = r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#;
    let records = |n: usize| format!("[{}]", vec![ROW; n].join(","));
    let padded = |n: usize| format!("{ROW}{}", " ".repeat(n - ROW.len()));
    let csv = |n: usize| {
        format!(
            "CHAS,RM,TAX,PTRATIO,B,LSTAT\n{}",
            "0,6.575,296,15.3,396.9,4.98\n".repeat(n)
        )
    };
    let case =
        |name: &str, body: String, content_type: &str, status: u16, code: Option<&str>| BodyCase {
            name: name.to_owned(),
            body: body.into_bytes(),
            content_type: content_type.to_owned(),
            status,
            code: code.map(str::to_owned),
            message_contains: None,
            functions_host: Default::default(),
        };
    let json = "application/json";
    vec![
        case("rows_at_the_limit", records(max_rows), json, 200, None),
        case(
            "rows_one_past_the_limit",
            records(max_rows + 1),
            json,
            413,
            Some("too_many_rows"),
        ),
        case(
            "csv_rows_at_the_limit",
            csv(max_rows),
            "text/csv",
            200,
            None,
        ),
        case(
            "csv_rows_one_past_the_limit",
            csv(max_rows + 1),
            "text/csv",
            413,
            Some("too_many_rows"),
        ),
        case("body_at_the_limit", padded(max_body_bytes), json, 200, None),
        case(
            "body_one_past_the_limit",
            padded(max_body_bytes + 1),
            json,
            413,
            Some("body_too_large"),
        ),
    ]
}

/// Every case of `job_ids.json`.
pub fn job_id_cases() -> Vec<IdCase> {
    read_json("job_ids.json")
        .iter()
        .map(|case| IdCase {
            path: text(case, "path"),
            status: status(case),
            code: text(case, "code"),
            functions_host: expected(case),
        })
        .collect()
}

/// Every case of `protocol.json`, its bytes read from `protocol/`.
pub fn protocol_cases() -> Vec<ProtocolCase> {
    read_json("protocol.json")
        .iter()
        .map(|case| {
            let name = text(case, "name");
            let file = root().join("protocol").join(format!("{name}.http"));
            ProtocolCase {
                bytes: std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())),
                name,
                status: status(case),
                code: case["code"].as_str().map(str::to_owned),
                answered_by_app: case["answered_by"] == "app",
            }
        })
        .collect()
}

/// Checks an answer against what a case expects: the status, and for an error the JSON
/// shape with the code, a message that contains what the case names, and no more than a
/// bounded excerpt of the request.
pub fn assert_answer(
    name: &str,
    expected_status: u16,
    expected_code: Option<&str>,
    message_contains: Option<&str>,
    status: u16,
    content_type: &str,
    body: &[u8],
) {
    assert_eq!(
        status,
        expected_status,
        "{name}: {}",
        String::from_utf8_lossy(body)
    );
    if status < 400 {
        return;
    }
    assert!(
        content_type.starts_with("application/json"),
        "{name}: an error answered as {content_type:?}"
    );
    let error: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{name}: the error is not JSON ({e})"));
    let message = error["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{name}: {error}"));
    if let Some(code) = expected_code {
        assert_eq!(error["error"]["code"], code, "{name}: {message}");
    }
    if let Some(part) = message_contains {
        assert!(message.contains(part), "{name}: {message:?} lacks {part:?}");
    }
    assert!(
        !message.is_empty() && message.len() < 400,
        "{name}: {message:?}"
    );
    assert!(
        !message.contains("Some(") && !message.contains("Custom {"),
        "{name}: {message}"
    );
}

/// The `Content-Type` of an answer a client library read, or empty.
pub fn content_type(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// An answer read off a raw connection.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    /// The status, or 0 when there was no status line.
    pub status: u16,
    /// The `Content-Type`, lower case, or empty.
    pub content_type: String,
    /// The status line and headers.
    pub head: String,
    /// The body.
    pub body: Vec<u8>,
}

/// Sends `bytes` on a new connection to `address` (`127.0.0.1:port`, with or without
/// `http://`) and reads until the server closes it or is quiet for 1.5 s. The server may
/// answer and close before it has read everything (a 431, say), so a failed write is fine.
pub fn exchange(address: &str, bytes: &[u8]) -> RawAnswer {
    use std::io::{Read, Write};
    let address = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(1500)))
        .unwrap();
    let _ = stream.write_all(bytes);
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    parse_raw(&out)
}

/// Splits a raw answer (after an interim `100 Continue`, if any).
fn parse_raw(raw: &[u8]) -> RawAnswer {
    let raw = raw
        .strip_prefix(b"HTTP/1.1 100 Continue\r\n\r\n".as_slice())
        .unwrap_or(raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    RawAnswer {
        status,
        content_type,
        head,
        body: raw[split..].to_vec(),
    }
}

/// The cases for a job-submission route: every body, and the limits one past them (a body at
/// a limit would queue a job as big as the limit allows).
pub fn job_cases(max_body_bytes: usize, max_rows: usize) -> Vec<BodyCase> {
    let mut cases = body_cases();
    cases.extend(
        limit_cases(max_body_bytes, max_rows)
            .into_iter()
            .filter(|c| c.status != 200),
    );
    cases
}

/// Checks the answer to a protocol case: its status and, for an error, the JSON shape with
/// the case's code; the answers of actix-http's dispatcher also close the connection.
pub fn assert_protocol_answer(case: &ProtocolCase, answer: &RawAnswer) {
    assert_answer(
        &case.name,
        case.status,
        case.code.as_deref(),
        None,
        answer.status,
        &answer.content_type,
        &answer.body,
    );
    if !case.answered_by_app {
        assert!(
            answer
                .head
                .to_ascii_lowercase()
                .contains("connection: close"),
            "{}: {}",
            case.name,
            answer.head
        );
    }
}
