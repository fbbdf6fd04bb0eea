//! `predict` over the JSON protocol: the web app's `/predict` contract, answers and errors alike.

use base64::Engine as _;
use serde_json::Value;

use crate::helpers::{
    CSV_FIRST_ROW, CSV_HEADER, FIRST_ROW, Invoked, ORIGINAL_CLIENT_PAYLOAD, TestApp,
    expected_predict, fixture, predict_envelope, spawn_app, submit_envelope,
};

/// The one price in a `{"prediction": [...]}` body.
fn single_price(body: &str) -> f64 {
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body.as_object().unwrap().len(),
        1,
        "only `prediction` in {body}"
    );
    let prediction = body["prediction"].as_array().unwrap();
    assert_eq!(prediction.len(), 1, "{body}");
    prediction[0].as_f64().unwrap()
}

/// Checks a successful prediction of the original client's payload.
fn assert_original_client_priced(invoked: &Invoked) {
    invoked.assert_completed();
    let res = invoked.res();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.content_type, "application/json");
    let expected =
        expected_predict(Some("application/json"), ORIGINAL_CLIENT_PAYLOAD.as_bytes()).unwrap();
    assert_eq!(
        res.body.as_bytes(),
        expected.body,
        "the web app's exact answer"
    );
    // The first house is worth 24.0 ($1000s).
    let price = single_price(&res.body);
    assert!((price - 24.0).abs() < 4.0, "implausible price {price}");
}

/// Invokes `predict` with `body` and checks the caller gets the web app's exact error.
async fn assert_same_error_as_the_web_app(
    app: &TestApp,
    content_type: Option<&str>,
    body: &str,
    status: u16,
    code: &str,
) -> String {
    let invoked = app
        .invoke_json("predict", &predict_envelope(content_type, Some(body)))
        .await;
    // The caller's 4xx travels inside the output; the host itself gets a 2xx.
    invoked.assert_completed();
    let res = invoked.res();
    let message = res.assert_error(status, code);
    let expected = expected_predict(content_type, body.as_bytes()).unwrap_err();
    assert_eq!(
        res.body.as_bytes(),
        expected.to_json(),
        "the web app's exact error"
    );
    let logs = invoked.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains("rejected") && l.contains(&message)),
        "{logs:?}"
    );
    message
}

#[tokio::test]
async fn predict_prices_the_original_clients_payload_in_the_core_tools_shape() {
    let app = spawn_app().await;
    let invoked = app
        .invoke(
            "predict",
            fixture!("predict_original_client_core_tools.json"),
        )
        .await;
    assert_original_client_priced(&invoked);
}

#[tokio::test]
async fn predict_answers_csv_with_the_rows_and_a_prediction_column() {
    let app = spawn_app().await;
    let invoked = app
        .invoke("predict", fixture!("predict_csv_core_tools.json"))
        .await;
    invoked.assert_completed();
    let res = invoked.res();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.content_type, "text/csv; charset=utf-8");
    let envelope: Value = serde_json::from_str(fixture!("predict_csv_core_tools.json")).unwrap();
    let csv = envelope["Data"]["req"]["Body"].as_str().unwrap();
    let expected = expected_predict(Some("text/csv"), csv.as_bytes()).unwrap();
    assert_eq!(res.body.as_bytes(), expected.body);
    let lines: Vec<&str> = res.body.lines().collect();
    assert_eq!(lines[0], "CHAS,RM,TAX,PTRATIO,B,LSTAT,prediction");
    assert_eq!(lines.len(), 4, "{}", res.body);
}

#[tokio::test]
async fn predict_returns_400_when_a_feature_is_missing() {
    let app = spawn_app().await;
    let body = r#"[{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9}]"#;
    let message = assert_same_error_as_the_web_app(
        &app,
        Some("application/json"),
        body,
        400,
        "missing_feature",
    )
    .await;
    assert!(message.starts_with("row 0 has no \"LSTAT\""), "{message}");
}

#[tokio::test]
async fn predict_returns_400_when_a_column_is_unknown() {
    let app = spawn_app().await;
    let body = r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT ":4.98}"#;
    let message = assert_same_error_as_the_web_app(
        &app,
        Some("application/json"),
        body,
        400,
        "unknown_column",
    )
    .await;
    assert!(message.contains("did you mean \"LSTAT\"?"), "{message}");
}

#[tokio::test]
async fn predict_returns_400_when_a_value_is_null() {
    let app = spawn_app().await;
    let body = r#"{"CHAS":{"0":0},"RM":{"0":6.575},"TAX":{"0":296.0},"PTRATIO":{"0":null},"B":{"0":396.9},"LSTAT":{"0":4.98}}"#;
    let message = assert_same_error_as_the_web_app(
        &app,
        Some("application/json"),
        body,
        400,
        "invalid_value",
    )
    .await;
    assert_eq!(
        message,
        "row \"0\", column \"PTRATIO\": null is not a number (NaN or null)"
    );
}

#[tokio::test]
async fn predict_returns_400_when_chas_is_not_0_or_1() {
    let app = spawn_app().await;
    let body = r#"{"CHAS":2,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#;
    let message = assert_same_error_as_the_web_app(
        &app,
        Some("application/json"),
        body,
        400,
        "invalid_value",
    )
    .await;
    assert_eq!(message, "the row, column \"CHAS\": 2 must be 0 or 1");
}

#[tokio::test]
async fn predict_returns_400_when_row_keys_are_inconsistent() {
    let app = spawn_app().await;
    let body = r#"{"CHAS":{"0":0,"1":0},"RM":{"0":6.575,"1":6.421},"TAX":{"0":296,"1":242},
        "PTRATIO":{"0":15.3,"1":17.8},"B":{"0":396.9,"2":396.9},"LSTAT":{"0":4.98,"1":9.14}}"#;
    let message = assert_same_error_as_the_web_app(
        &app,
        Some("application/json"),
        body,
        400,
        "inconsistent_rows",
    )
    .await;
    assert!(message.contains("column \"B\""), "{message}");
}

#[tokio::test]
async fn predict_returns_415_for_a_content_type_other_than_json_or_csv() {
    let app = spawn_app().await;
    let message = assert_same_error_as_the_web_app(
        &app,
        Some("text/plain"),
        FIRST_ROW,
        415,
        "unsupported_media_type",
    )
    .await;
    assert!(message.contains("text/plain"), "{message}");
    // Valid base64 for octet-stream decodes fine, and is then refused for its type.
    let base64 = base64::engine::general_purpose::STANDARD.encode(FIRST_ROW);
    let invoked = app
        .invoke_json(
            "predict",
            &predict_envelope(Some("application/octet-stream"), Some(&base64)),
        )
        .await;
    invoked.assert_completed();
    invoked.res().assert_error(415, "unsupported_media_type");
}

#[tokio::test]
async fn predict_returns_413_when_the_body_is_over_one_mebibyte() {
    let app = spawn_app().await;
    // Valid JSON (a record followed by spaces), so only its size is wrong.
    let mut body = FIRST_ROW.to_owned();
    body.push_str(&" ".repeat(1024 * 1024));
    let message = assert_same_error_as_the_web_app(
        &app,
        Some("application/json"),
        &body,
        413,
        "body_too_large",
    )
    .await;
    assert!(message.contains("1048576"), "{message}");
}

#[tokio::test]
async fn predict_returns_413_when_there_are_more_than_10000_rows() {
    let app = spawn_app().await;
    let csv = format!("{CSV_HEADER}{}", CSV_FIRST_ROW.repeat(10_001));
    let message =
        assert_same_error_as_the_web_app(&app, Some("text/csv"), &csv, 413, "too_many_rows").await;
    assert!(message.contains("10000"), "{message}");
    let csv = format!("{CSV_HEADER}{}", CSV_FIRST_ROW.repeat(10_000));
    let invoked = app
        .invoke_json("predict", &predict_envelope(Some("text/csv"), Some(&csv)))
        .await;
    invoked.assert_completed();
    assert_eq!(invoked.res().status, 200);
}

#[tokio::test]
async fn predict_without_a_body_gets_the_web_apps_answer_for_an_empty_body() {
    let app = spawn_app().await;
    let invoked = app
        .invoke("predict", fixture!("predict_no_body.json"))
        .await;
    invoked.assert_completed();
    let res = invoked.res();
    let expected = expected_predict(None, b"").unwrap_err();
    res.assert_error(400, "malformed_json");
    assert_eq!(res.body.as_bytes(), expected.to_json());
    assert!(!invoked.logs().is_empty());
}

#[tokio::test]
async fn an_octet_stream_body_that_is_not_base64_fails_the_invocation_not_the_caller() {
    // The host base64-encodes such a body itself (`HttpRequestExtensions.cs`): one that is
    // not base64 cannot come from a caller, so the invocation fails (the host answers 500).
    let app = spawn_app().await;
    let response = app
        .post(
            "predict",
            fixture!("predict_octet_stream_invalid_base64.json").to_string(),
        )
        .await;
    assert_eq!(response.status().as_u16(), 500);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "failed");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid base64"),
        "{body}"
    );
}

#[tokio::test]
async fn predict_and_submit_job_refuse_a_compressed_body_with_415_by_the_web_app_s_rule() {
    // The host hands bodies over as they came (ASP.NET Core decodes no request body).
    let app = spawn_app().await;
    for (function, mut envelope) in [
        (
            "predict",
            predict_envelope(Some("application/json"), Some("\u{1f}\u{8b}garbage")),
        ),
        (
            "submit-job",
            submit_envelope(Some("application/json"), Some("\u{1f}\u{8b}garbage")),
        ),
    ] {
        envelope["Data"]["req"]["Headers"]["Content-Encoding"] = serde_json::json!(["gzip"]);
        let invoked = app.invoke_json(function, &envelope).await;
        invoked.assert_completed();
        let message = invoked.res().assert_error(415, "unsupported_encoding");
        assert!(message.contains("gzip"), "{message}");
        assert!(!invoked.has_output("msg"), "nothing is queued");
    }
}
