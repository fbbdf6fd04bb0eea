//! Every way a request can be wrong answers `{"error":{"code","message"}}` with the right status.

use crate::helpers::{FIRST_ROW, assert_error, spawn_app, spawn_app_with};
use house_price::api::Limits;

const CSV_HEADER: &str = "CHAS,RM,TAX,PTRATIO,B,LSTAT\n";
const CSV_FIRST_ROW: &str = "0,6.575,296,15.3,396.9,4.98\n";

#[tokio::test]
async fn predict_returns_400_when_the_json_is_malformed() {
    let app = spawn_app().await;
    let message = assert_error(app.post_json(r#"{"CHAS": "#).await, 400, "malformed_json").await;
    assert!(message.contains("not valid JSON"), "{message}");
}

#[tokio::test]
async fn predict_returns_400_when_a_feature_is_missing() {
    let app = spawn_app().await;
    let body = r#"[{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9}]"#;
    let message = assert_error(app.post_json(body).await, 400, "missing_feature").await;
    assert!(message.starts_with("row 0 has no \"LSTAT\""), "{message}");
}

#[tokio::test]
async fn predict_returns_400_when_a_column_is_unknown() {
    let app = spawn_app().await;
    let body = r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT ":4.98}"#;
    let message = assert_error(app.post_json(body).await, 400, "unknown_column").await;
    assert!(message.contains("\"LSTAT \""), "{message}");
    assert!(message.contains("did you mean \"LSTAT\"?"), "{message}");
}

#[tokio::test]
async fn predict_returns_400_when_a_value_is_not_a_number() {
    let app = spawn_app().await;
    let body = r#"[{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98},
                   {"CHAS":0,"RM":"six","TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}]"#;
    let message = assert_error(app.post_json(body).await, 400, "invalid_value").await;
    assert_eq!(
        message,
        "row 1, column \"RM\": \"six\" is a string, not a number"
    );
    let csv = format!("{CSV_HEADER}{CSV_FIRST_ROW}0,6.575,abc,15.3,396.9,4.98\n");
    let message = assert_error(
        app.post_predict(Some("text/csv"), csv).await,
        400,
        "invalid_value",
    )
    .await;
    assert_eq!(message, "line 3, column \"TAX\": \"abc\" is not a number");
}

#[tokio::test]
async fn predict_returns_400_when_a_value_is_null_or_nan() {
    let app = spawn_app().await;
    // pandas writes NaN as null.
    let body = r#"{"CHAS":{"0":0},"RM":{"0":6.575},"TAX":{"0":296.0},"PTRATIO":{"0":null},"B":{"0":396.9},"LSTAT":{"0":4.98}}"#;
    let message = assert_error(app.post_json(body).await, 400, "invalid_value").await;
    assert_eq!(
        message,
        "row \"0\", column \"PTRATIO\": null is not a number (NaN or null)"
    );
    let csv = format!("{CSV_HEADER}0,NaN,296,15.3,396.9,4.98\n");
    let message = assert_error(
        app.post_predict(Some("text/csv"), csv).await,
        400,
        "invalid_value",
    )
    .await;
    assert!(message.starts_with("line 2, column \"RM\""), "{message}");
}

#[tokio::test]
async fn predict_returns_400_when_a_value_is_infinite() {
    let app = spawn_app().await;
    let csv = format!("{CSV_HEADER}0,6.575,296,15.3,396.9,inf\n");
    let message = assert_error(
        app.post_predict(Some("text/csv"), csv).await,
        400,
        "invalid_value",
    )
    .await;
    assert_eq!(message, "line 2, column \"LSTAT\": inf is infinite");
}

#[tokio::test]
async fn predict_returns_400_when_chas_is_not_0_or_1() {
    let app = spawn_app().await;
    let body = r#"{"CHAS":2,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#;
    let message = assert_error(app.post_json(body).await, 400, "invalid_value").await;
    assert_eq!(message, "the row, column \"CHAS\": 2 must be 0 or 1");
}

#[tokio::test]
async fn predict_returns_400_when_row_keys_are_inconsistent() {
    let app = spawn_app().await;
    let body = r#"{"CHAS":{"0":0,"1":0},"RM":{"0":6.575,"1":6.421},"TAX":{"0":296,"1":242},
        "PTRATIO":{"0":15.3,"1":17.8},"B":{"0":396.9,"2":396.9},"LSTAT":{"0":4.98,"1":9.14}}"#;
    let message = assert_error(app.post_json(body).await, 400, "inconsistent_rows").await;
    assert!(message.contains("column \"B\""), "{message}");
}

#[tokio::test]
async fn predict_returns_413_when_the_body_is_over_one_mebibyte() {
    let app = spawn_app().await;
    // Valid JSON (a record followed by spaces), so only its size is wrong.
    let mut body = FIRST_ROW.to_owned();
    body.push_str(&" ".repeat(2 * 1024 * 1024));
    let message = assert_error(app.post_json(&body).await, 413, "body_too_large").await;
    assert!(message.contains("1048576"), "{message}");
    // The server is still fine afterwards.
    assert_eq!(app.post_json(FIRST_ROW).await.status(), 200);
}

/// A body in `pieces` with no `Content-Length`, each piece sent as its own chunk.
fn streamed(pieces: Vec<String>) -> reqwest::Body {
    reqwest::Body::wrap_stream(futures_util::stream::iter(
        pieces.into_iter().map(Ok::<_, std::io::Error>),
    ))
}

#[tokio::test]
async fn predict_counts_a_streamed_body_against_the_limit_to_the_byte() {
    let limit = 1000;
    let app = spawn_app_with(|s| s.limits.max_body_bytes = limit).await;
    // A record padded with spaces to exactly `limit` bytes, in chunks of 100, 0 and 1 bytes
    // so the limit falls inside a chunk, on a chunk's edge, and after an empty one.
    let exact = format!("{FIRST_ROW}{}", " ".repeat(limit - FIRST_ROW.len()));
    let split = |body: &str, sizes: &[usize]| {
        let mut pieces = Vec::new();
        let mut rest = body;
        for n in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*n).min(rest.len()));
            pieces.push(piece.to_owned());
            rest = tail;
        }
        pieces
    };
    let first = app.predictions(FIRST_ROW).await;
    for sizes in [&[100][..], &[1, 0, 99], &[limit]] {
        let response = app
            .post_predict(Some("application/json"), streamed(split(&exact, sizes)))
            .await;
        assert_eq!(response.status(), 200, "{sizes:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["prediction"][0].as_f64(), Some(first[0]), "{sizes:?}");
        let over = format!("{exact} ");
        let message = assert_error(
            app.post_predict(Some("application/json"), streamed(split(&over, sizes)))
                .await,
            413,
            "body_too_large",
        )
        .await;
        assert!(message.contains("1000 bytes"), "{message}");
    }
    // Nothing more arriving after the first piece is a body of that piece alone.
    let response = app
        .post_predict(
            Some("application/json"),
            streamed(vec![FIRST_ROW.to_owned()]),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_error(
        app.post_predict(Some("application/json"), streamed(vec![]))
            .await,
        400,
        "malformed_json",
    )
    .await;
}

#[tokio::test]
async fn predict_returns_413_when_there_are_more_than_10000_rows() {
    let app = spawn_app().await;
    let csv = format!("{CSV_HEADER}{}", CSV_FIRST_ROW.repeat(10_001));
    assert!(csv.len() < Limits::default().max_body_bytes);
    let message = assert_error(
        app.post_predict(Some("text/csv"), csv).await,
        413,
        "too_many_rows",
    )
    .await;
    assert!(message.contains("10000"), "{message}");
    let csv = format!("{CSV_HEADER}{}", CSV_FIRST_ROW.repeat(10_000));
    assert_eq!(app.post_predict(Some("text/csv"), csv).await.status(), 200);
}

#[tokio::test]
async fn predict_limits_are_configurable() {
    let app = spawn_app_with(|s| {
        s.limits = Limits {
            max_body_bytes: 200,
            max_rows: 2,
        }
    })
    .await;
    let three = format!("[{FIRST_ROW},{FIRST_ROW},{FIRST_ROW}]");
    assert!(three.len() < 300);
    assert_error(app.post_json(&three).await, 413, "body_too_large").await;
    let three = format!("{CSV_HEADER}{}", CSV_FIRST_ROW.repeat(3));
    assert!(three.len() < 200);
    let message = assert_error(
        app.post_predict(Some("text/csv"), three).await,
        413,
        "too_many_rows",
    )
    .await;
    assert!(message.contains("limit of 2"), "{message}");
    let two = format!("{CSV_HEADER}{}", CSV_FIRST_ROW.repeat(2));
    assert_eq!(app.post_predict(Some("text/csv"), two).await.status(), 200);
}

#[tokio::test]
async fn predict_returns_415_for_an_unsupported_content_type() {
    let app = spawn_app().await;
    let response = app
        .post_predict(Some("application/x-www-form-urlencoded"), "CHAS=0")
        .await;
    let message = assert_error(response, 415, "unsupported_media_type").await;
    assert!(
        message.contains("application/x-www-form-urlencoded"),
        "{message}"
    );
}

#[tokio::test]
async fn unknown_paths_return_404_as_json() {
    let app = spawn_app().await;
    let message = assert_error(app.get("/predictions").await, 404, "not_found").await;
    assert!(message.contains("/predictions"), "{message}");
}

#[tokio::test]
async fn wrong_methods_return_405_as_json_with_an_allow_header() {
    let app = spawn_app().await;
    let response = app.get("/predict").await;
    assert_eq!(response.headers()["allow"], "POST");
    let message = assert_error(response, 405, "method_not_allowed").await;
    assert_eq!(message, "GET is not allowed on /predict: use POST");
    let response = app.request(reqwest::Method::DELETE, "/health").await;
    assert_eq!(response.headers()["allow"], "GET");
    assert_error(response, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let responses = [
        app.get("/").await,
        app.get("/health").await,
        app.get("/static/app.js").await,
        app.get("/nowhere").await,
        app.get("/predict").await,
        app.post_json("{").await,
        app.post_json(&" ".repeat(2 << 20)).await,
    ];
    for response in responses {
        let h = response.headers();
        let what = format!("{} {}", response.status(), response.url());
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(
            h["content-security-policy"],
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            "{what}"
        );
        assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
        assert_eq!(h["x-frame-options"], "DENY", "{what}");
    }
}
