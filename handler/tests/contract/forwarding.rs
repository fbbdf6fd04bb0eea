//! HTTP forwarding (`enableForwardingHttpRequest`): `predict` alone (HTTP in, HTTP out) is served
//! at its route with real statuses; functions with other bindings keep the JSON protocol.

use serde_json::Value;

use crate::helpers::{
    FIRST_ROW, ORIGINAL_CLIENT_PAYLOAD, TestApp, expected_predict, fixture, spawn, state,
};

async fn spawn_forwarding_app() -> TestApp {
    spawn(house_price_functions::app(state()).forward_http_requests(true)).await
}

async fn post_predict(app: &TestApp, content_type: &str, body: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/predict", app.address))
        .header("Content-Type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn assert_forwarded_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    // A function's answer carries the charset the host's formatter adds; the runtime's own
    // errors are plain application/json.
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    body
}

#[tokio::test]
async fn forwarded_predict_answers_200_with_the_prediction() {
    let app = spawn_forwarding_app().await;
    let response = post_predict(&app, "application/json", ORIGINAL_CLIENT_PAYLOAD).await;
    assert_eq!(response.status(), 200);
    // The host passes a forwarded answer on as the function built it.
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = response.bytes().await.unwrap();
    let expected =
        expected_predict(Some("application/json"), ORIGINAL_CLIENT_PAYLOAD.as_bytes()).unwrap();
    assert_eq!(body.as_ref(), expected.body);
}

#[tokio::test]
async fn forwarded_predict_answers_400_when_a_feature_is_missing() {
    let app = spawn_forwarding_app().await;
    let body = r#"[{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9}]"#;
    let response = post_predict(&app, "application/json", body).await;
    let error = assert_forwarded_error(response, 400, "missing_feature").await;
    let expected = expected_predict(Some("application/json"), body.as_bytes()).unwrap_err();
    assert_eq!(error, serde_json::to_value(expected.body()).unwrap());
}

#[tokio::test]
async fn forwarded_predict_answers_415_for_an_unsupported_content_type() {
    let app = spawn_forwarding_app().await;
    let response = post_predict(&app, "text/plain", FIRST_ROW).await;
    assert_forwarded_error(response, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn job_status_is_forwarded_since_it_has_only_http_bindings_and_submit_job_is_not() {
    let app = spawn_forwarding_app().await;
    // job-status reads its result itself, so it is HTTP in, HTTP out: forwarded, with the
    // real status (no storage here, so a 503).
    let url = format!(
        "{}/api/jobs/7c9e6679-7425-40de-944b-e07fc1f90ae7",
        app.address
    );
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.headers()["retry-after"], "5");
    assert_forwarded_error(response, 503, "unavailable").await;
    let bad = format!("{}/api/jobs/..%2Fx", app.address);
    let response = app.client.get(bad).send().await.unwrap();
    assert_forwarded_error(response, 400, "bad_request").await;
    // submit-job has a queue output, so it is not forwarded.
    let response = app
        .client
        .post(format!("{}/api/jobs", app.address))
        .header("Content-Type", "application/json")
        .body(format!("[{FIRST_ROW}]"))
        .send()
        .await
        .unwrap();
    assert_forwarded_error(response, 404, "not_found").await;
    // Both answer the JSON protocol too (a host without forwarding posts it; the test client
    // forwards job-status, as Azure does when forwarding is on, so this goes by HTTP).
    let response = app
        .post("job-status", fixture!("job_status_found.json"))
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["Outputs"]["res"]["statusCode"], "503");
    let invoked = app
        .invoke("submit-job", fixture!("submit_job_three_rows.json"))
        .await;
    invoked.assert_completed();
    assert_eq!(invoked.res().status, 202);
}
