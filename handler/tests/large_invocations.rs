//! A large invocation leaves the heap it freed for the next one. glibc's allocator, left to
//! its own thresholds, handed the megabytes a 10,000-row invocation frees back to the kernel
//! at its end, and the next invocation faulted every page in again (446 minor faults each,
//! a third of the handler's time over the web app's; `keep_freed_heap` in src/main.rs).
//! Page faults are counted, not timed: the count does not depend on how busy the machine is.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod support;

const ROWS: usize = 10_000;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A pandas `to_json()` batch of `ROWS` distinct houses, as the original client sends it.
fn pandas_batch() -> String {
    let column = |name: &str, value: &dyn Fn(usize) -> String| {
        let cells: Vec<String> = (0..ROWS).map(|i| format!("\"{i}\":{}", value(i))).collect();
        format!("\"{name}\":{{{}}}", cells.join(","))
    };
    let columns = [
        column("CHAS", &|i| (i % 2).to_string()),
        column("RM", &|i| format!("{:.3}", 4.0 + (i % 500) as f64 * 0.009)),
        column("TAX", &|i| format!("{:.1}", 187.0 + (i % 524) as f64)),
        column("PTRATIO", &|i| {
            format!("{:.1}", 12.6 + (i % 94) as f64 * 0.1)
        }),
        column("B", &|i| format!("{:.2}", 0.32 + (i % 3966) as f64 * 0.1)),
        column("LSTAT", &|i| {
            format!("{:.2}", 1.73 + (i % 3600) as f64 * 0.01)
        }),
    ];
    format!("{{{}}}", columns.join(","))
}

/// The host's invocation of `predict` (Core Tools' shape, from the shared fixture) with
/// `body` as the HTTP request's body.
fn invocation(body: &str) -> Vec<u8> {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/predict_original_client_core_tools.json"
    );
    let mut envelope: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let length = body.len().to_string();
    envelope["Data"]["req"]["Body"] = body.into();
    envelope["Data"]["req"]["Headers"]["Content-Length"] = serde_json::json!([length]);
    envelope["Metadata"]["Headers"]["Content-Length"] = length.into();
    serde_json::to_vec(&envelope).unwrap()
}

/// Minor page faults of process `pid` so far (field 10 of /proc/PID/stat).
fn minor_faults(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name, in parentheses, may hold spaces: count fields after it.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split(' ').nth(7).unwrap().parse().unwrap()
}

#[test]
fn a_repeated_10000_row_invocation_does_not_fault_its_heap_in_again() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Killed(
        Command::new(env!("CARGO_BIN_EXE_handler"))
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("RUST_LOG", "warn")
            .env_remove("AzureWebJobsStorage")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    support::wait_until_ready(&client, port);
    let body = invocation(&pandas_batch());
    let invoke = || {
        let response = client
            .post(format!("http://127.0.0.1:{port}/predict"))
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let answer: Value = response.json().unwrap();
        let http = &answer["Outputs"]["res"];
        assert_eq!(http["statusCode"], "200", "{}", http["headers"]);
        let prices: Value = serde_json::from_str(http["body"].as_str().unwrap()).unwrap();
        assert_eq!(prices["prediction"].as_array().unwrap().len(), ROWS);
    };
    // The first invocations grow the heap to what one needs. All of them go through one
    // keep-alive connection, so one actix worker (and its allocator arena) takes them; the
    // halves of a batch go to helper threads when those are free, so an invocation now and
    // then grows another arena once: the median of the invocations' counts is what is
    // asserted, not their sum.
    for _ in 0..5 {
        invoke();
    }
    let pid = child.0.id();
    let mut faults: Vec<u64> = (0..7)
        .map(|_| {
            let before = minor_faults(pid);
            invoke();
            minor_faults(pid) - before
        })
        .collect();
    faults.sort_unstable();
    let median = faults[faults.len() / 2];
    assert!(
        median < 64,
        "a 10,000-row invocation faulted {median} pages in (all: {faults:?}): the heap it freed went back to the kernel"
    );
}
