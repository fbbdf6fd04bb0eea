//! Invocations the host should never send, and readiness: every bad one gets a clear JSON error
//! (never a panic or a dropped connection), and the server keeps answering afterwards.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, fixture, parse, predict_envelope, score_envelope, spawn_app};

/// Reads a host-facing JSON error `{"error":{"code","message"}}` and returns the message.
async fn host_error(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(content_type, "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"].as_str().unwrap().to_string()
}

/// The server is alive: readiness and a good invocation both answer.
async fn assert_still_serving(app: &TestApp) {
    assert_eq!(app.ready().await.status(), 200);
    let invoked = app
        .invoke(
            "predict",
            fixture!("predict_original_client_core_tools.json"),
        )
        .await;
    invoked.assert_completed();
    assert_eq!(invoked.res().status, 200);
}

#[tokio::test]
async fn the_server_answers_readiness_immediately_after_bind() {
    let started = Instant::now();
    let app = spawn_app().await;
    // No retry loop: the first GET / after bind must already succeed.
    let response = app.ready().await;
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "readiness took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_envelope_without_data_is_refused_with_a_json_error() {
    let app = spawn_app().await;
    let response = app
        .post("predict", fixture!("invocation_without_data.json"))
        .await;
    let message = host_error(response, 400, "invalid_invocation").await;
    assert_eq!(message, "the invocation body has no Data object");
}

#[tokio::test]
async fn an_envelope_that_is_not_json_is_refused_with_a_json_error() {
    let app = spawn_app().await;
    let response = app.post("submit-job", "{\"Data\": {\"req\": ").await;
    let message = host_error(response, 400, "invalid_invocation").await;
    assert!(
        message.starts_with("the invocation body is not valid JSON"),
        "{message}"
    );
}

#[tokio::test]
async fn an_http_trigger_of_the_wrong_type_fails_the_invocation_and_never_blames_the_caller() {
    // A fault of the host or the declaration: the invocation fails, so the host answers the
    // caller 500 and records a failure, and nothing (no `msg`) is enqueued.
    let app = spawn_app().await;
    for function in ["predict", "submit-job", "job-status"] {
        let response = app
            .post(
                function,
                fixture!("predict_req_is_a_number.json").to_string(),
            )
            .await;
        let message = host_error(response, 500, "failed").await;
        assert_eq!(
            message,
            "the trigger `req` is unusable: the HTTP trigger `req` is a number where an object was expected"
        );
    }
}

#[tokio::test]
async fn an_invocation_above_the_runtime_limit_is_refused_with_413() {
    let app = spawn_app().await;
    let limit = house_price_functions::invocation_limit(&crate::helpers::state());
    let huge = format!(
        "{{\"Data\": {{\"req\": {{\"Url\": \"u\", \"Method\": \"POST\", \"Body\": \"{}\"}}}}}}",
        " ".repeat(limit + 1)
    );
    let response = app.post("predict", huge).await;
    let message = host_error(response, 413, "body_too_large").await;
    assert!(message.contains(&limit.to_string()), "{message}");
}

#[tokio::test]
async fn a_job_body_at_its_limit_fits_in_an_invocation_however_the_host_escapes_it() {
    // 16 MiB of quotes: the host sends each as `\"`, so the invocation is 32 MiB. With the
    // runtime's 16 MiB default the handler answered 413, which the host turns into a 500.
    let app = spawn_app().await;
    let body = "\"".repeat(16 << 20);
    let envelope = crate::helpers::submit_envelope(Some("application/json"), Some(&body));
    let invoked = app.invoke_json("submit-job", &envelope).await;
    invoked.assert_completed();
    invoked.res().assert_error(400, "malformed_json");
}

#[tokio::test]
async fn a_queue_message_that_is_neither_a_string_nor_an_object_fails_with_a_json_error() {
    let app = spawn_app().await;
    for value in [json!(7), json!([1, 2]), json!(true)] {
        let mut envelope = parse(fixture!("score_job_message_core_tools.json"));
        envelope["Data"]["job"] = value.clone();
        let response = app.post("score-job", envelope.to_string()).await;
        assert_eq!(response.status().as_u16(), 500);
        let body: Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("no usable jobId") || message.contains("declared as text"),
            "{value}: {message}"
        );
    }
    let mut envelope = score_envelope("{}");
    envelope["Data"].as_object_mut().unwrap().remove("job");
    let response = app.post("score-job", envelope.to_string()).await;
    let message = host_error(response, 500, "failed").await;
    assert_eq!(
        message,
        "the trigger `job` is unusable: the invocation has no queue message named `job` in Data"
    );
}

#[tokio::test]
async fn an_unknown_function_is_refused_with_404() {
    let app = spawn_app().await;
    let response = app
        .post(
            "predict-v2",
            fixture!("predict_original_client_core_tools.json"),
        )
        .await;
    let message = host_error(response, 404, "unknown_function").await;
    assert!(message.contains("predict-v2"), "{message}");
}

#[tokio::test]
async fn the_server_still_answers_after_every_kind_of_bad_invocation() {
    let app = spawn_app().await;
    let huge = " ".repeat(functions_custom_handler::DEFAULT_BODY_LIMIT + 1);
    let mut not_a_message = parse(fixture!("score_job_message_core_tools.json"));
    not_a_message["Data"]["job"] = json!([{"jobId": 1}]);
    let bad: Vec<(&str, String)> = vec![
        (
            "predict",
            fixture!("invocation_without_data.json").to_string(),
        ),
        (
            "predict",
            fixture!("predict_req_is_a_number.json").to_string(),
        ),
        (
            "predict",
            fixture!("predict_octet_stream_invalid_base64.json").to_string(),
        ),
        (
            "predict",
            predict_envelope(Some("application/json"), Some("{")).to_string(),
        ),
        ("predict", huge),
        ("submit-job", "not json at all".to_string()),
        ("score-job", not_a_message.to_string()),
        (
            "score-job",
            fixture!("score_job_no_job_id.json").to_string(),
        ),
        ("job-status", fixture!("job_status_bad_id.json").to_string()),
    ];
    for (function, body) in bad {
        let response = app.post(function, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{function}: non-JSON answer {status} ({e}): {text}"));
        let is_error = value["error"]["code"].is_string();
        let is_completed = value["Outputs"].is_object();
        assert!(is_error || is_completed, "{function}: {status} {value}");
    }
    assert_still_serving(&app).await;
}
