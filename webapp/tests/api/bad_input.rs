//! The bad-input corpus (`bad-input/`) against the real web app binary over HTTP: every body
//! on `POST /predict` and `POST /jobs`, every job id trick on `GET /jobs/{id}`, and protocol
//! garbage on raw connections. Nothing is a 5xx (but the 503 of jobs without storage), no
//! answer repeats more than a bounded excerpt, and the server is still up at the end.

#[path = "../../../bad-input/corpus.rs"]
mod corpus;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use corpus::{BodyCase, assert_answer};
use house_price::api::Limits;
use webapp::configuration::DEFAULT_JOB_LIMITS;

use crate::helpers::{free_port, spawn_webapp_process_with};

/// The web app binary without storage and without rate limits, so the job routes parse
/// every body and id and then answer 503.
struct WebApp {
    child: Child,
    base: String,
    client: reqwest::blocking::Client,
}

impl Drop for WebApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl WebApp {
    fn start() -> WebApp {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_webapp"));
        command
            .env_remove("AzureWebJobsStorage")
            .env("JOB_SUBMISSIONS_PER_MINUTE", "0")
            .env("JOB_STATUS_CHECKS_PER_MINUTE", "0");
        WebApp {
            child: spawn_webapp_process_with(port, Stdio::null(), command),
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    fn post(&self, path: &str, case: &BodyCase) -> (u16, String, Vec<u8>) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", &case.content_type)
            .body(case.body.clone())
            .send()
            .unwrap_or_else(|e| panic!("{}: no answer ({e})", case.name));
        answer(response)
    }

    fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the server exited"
        );
        let health = self
            .client
            .get(format!("{}/health", self.base))
            .send()
            .unwrap();
        assert_eq!(health.status(), 200);
    }
}

fn answer(response: reqwest::blocking::Response) -> (u16, String, Vec<u8>) {
    let status = response.status().as_u16();
    let content_type = corpus::content_type(response.headers());
    (status, content_type, response.bytes().unwrap().to_vec())
}

#[test]
fn every_bad_body_gets_its_json_error_on_predict_and_jobs() {
    let mut app = WebApp::start();
    let mut cases = corpus::body_cases();
    let predict_limits = Limits::default();
    cases.extend(corpus::limit_cases(
        predict_limits.max_body_bytes,
        predict_limits.max_rows,
    ));
    for case in &cases {
        let (status, content_type, body) = app.post("/predict", case);
        assert_answer(
            &format!("POST /predict {}", case.name),
            case.status,
            case.code.as_deref(),
            case.message_contains.as_deref(),
            status,
            &content_type,
            &body,
        );
    }
    // Jobs parse exactly as predictions do; a batch that passes gets the 503 of no storage.
    // The generated cases are made again for the jobs' own limits.
    let job_cases = corpus::job_cases(
        DEFAULT_JOB_LIMITS.max_body_bytes,
        DEFAULT_JOB_LIMITS.max_rows,
    );
    for case in &job_cases {
        let (status, content_type, body) = app.post("/jobs", case);
        let name = format!("POST /jobs {}", case.name);
        let (expected, code) = match case.status {
            200 if case.body_has_rows() => (503, Some("unavailable")),
            200 => (400, Some("bad_request")),
            other => (other, case.code.as_deref()),
        };
        assert_answer(&name, expected, code, None, status, &content_type, &body);
    }
    app.assert_alive();
}

#[test]
fn every_job_id_trick_is_refused_before_storage_is_asked() {
    let mut app = WebApp::start();
    for case in corpus::job_id_cases() {
        // Raw, since an HTTP client library would resolve `%2e%2e` before sending.
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            case.path
        );
        let answer = corpus::exchange(&app.base, request.as_bytes());
        let shown: String = case.path.chars().take(60).collect();
        assert_answer(
            &format!("GET {shown}"),
            case.status,
            Some(&case.code),
            None,
            answer.status,
            &answer.content_type,
            &answer.body,
        );
    }
    app.assert_alive();
}

#[test]
fn protocol_garbage_gets_a_4xx_and_leaves_the_server_serving() {
    let mut app = WebApp::start();
    for case in corpus::protocol_cases() {
        let answer = corpus::exchange(&app.base, &case.bytes);
        corpus::assert_protocol_answer(&case, &answer);
        app.assert_alive();
    }
}
