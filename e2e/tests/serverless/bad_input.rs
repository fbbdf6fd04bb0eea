//! The bad-input corpus (`bad-input/`) against the Functions app: the handler binary under the
//! local host, as a client of the function app calls it. It answers every case as the web app
//! does (`webapp/tests/api/bad_input.rs`), but where the host changes a request before the
//! handler sees it (`functions_host` in the corpus): `predict` is forwarded byte for byte,
//! `submit-job` gets the body as the host's text, and Kestrel normalises paths.

#[path = "../../../bad-input/corpus.rs"]
mod corpus;

use corpus::{BodyCase, assert_answer};
use house_price::api::Limits;
use house_price::jobs::MAX_JOB_ROWS;

use crate::helpers::{KEY, Stack, start_without};

/// The job limits `submit-job` holds batches to (`handler/src/state.rs`), as the web app does.
const JOB_BODY_LIMIT: usize = 16 << 20;

async fn post(stack: &Stack, path: &str, case: &BodyCase) -> (u16, String, Vec<u8>) {
    let response = stack
        .http
        .post(stack.url(path))
        .header("x-functions-key", KEY)
        .header("Content-Type", &case.content_type)
        .body(case.body.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: no answer ({e})", case.name));
    let status = response.status().as_u16();
    let content_type = corpus::content_type(response.headers());
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

#[tokio::test]
async fn every_bad_body_gets_its_json_error_from_predict_and_submit_job() {
    // No scoring: accepted jobs stay queued, and the next test's start drains them.
    let stack = start_without(&["score-job"]).await;
    let mut cases = corpus::body_cases();
    let limits = Limits::default();
    cases.extend(corpus::limit_cases(limits.max_body_bytes, limits.max_rows));
    for case in &cases {
        let (status, content_type, body) = post(&stack, "/api/predict", case).await;
        let name = format!("POST /api/predict {}", case.name);
        match case.functions_host.get("predict") {
            Some(host) => assert_answer(
                &name,
                host.status,
                host.code.as_deref(),
                None,
                status,
                &content_type,
                &body,
            ),
            None => assert_answer(
                &name,
                case.status,
                case.code.as_deref(),
                case.message_contains.as_deref(),
                status,
                &content_type,
                &body,
            ),
        }
    }
    let job_cases = corpus::job_cases(JOB_BODY_LIMIT, MAX_JOB_ROWS);
    for case in &job_cases {
        let (status, content_type, body) = post(&stack, "/api/jobs", case).await;
        // submit-job is not forwarded (it has a queue output): the host hands it the body as
        // text, which changes a few answers (`functions_host` in bodies.json).
        let (status_wanted, code_wanted) = match case.functions_host.get("submit-job") {
            Some(host) => (host.status, host.code.as_deref()),
            None => (case.status, case.code.as_deref()),
        };
        let (expected, code) = match status_wanted {
            200 if case.body_has_rows() => (202, None),
            200 => (400, Some("bad_request")),
            other => (other, code_wanted),
        };
        assert_answer(
            &format!("POST /api/jobs {}", case.name),
            expected,
            code,
            None,
            status,
            &content_type,
            &body,
        );
    }
}

#[tokio::test]
async fn every_job_id_trick_is_refused_by_job_status() {
    let stack = start_without(&["score-job"]).await;
    let address = stack.url("").trim_start_matches("http://").to_owned();
    for case in corpus::job_id_cases() {
        // Raw, since an HTTP client library would resolve `%2e%2e` before sending.
        let request = format!(
            "GET /api{} HTTP/1.1\r\nHost: {address}\r\nx-functions-key: {KEY}\r\nConnection: close\r\n\r\n",
            case.path
        );
        let answer = tokio::task::spawn_blocking({
            let address = address.clone();
            move || corpus::exchange(&address, request.as_bytes())
        })
        .await
        .unwrap();
        let shown: String = case.path.chars().take(60).collect();
        let name = format!("GET /api{shown}");
        match &case.functions_host {
            // Answered before the handler: by Kestrel's rules, as the local host applies them.
            Some(host) if !host.json => {
                assert_eq!(answer.status, host.status, "{name}: {}", answer.head);
            }
            Some(host) => assert_answer(
                &name,
                host.status,
                host.code.as_deref(),
                None,
                answer.status,
                &answer.content_type,
                &answer.body,
            ),
            None => assert_answer(
                &name,
                case.status,
                Some(&case.code),
                None,
                answer.status,
                &answer.content_type,
                &answer.body,
            ),
        }
    }
}
