//! `POST /uploads`, `GET /uploads/{id}` and `GET /uploads/{id}/result.csv` against Azurite,
//! looking behind the API at the blobs the Functions app's `score-upload` reads and writes.

use house_price::uploads;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{
    THREE_HOUSES_CSV, TestApp, assert_error, azurite_storage, spawn_app, spawn_app_with,
    spawn_app_with_azurite,
};

async fn post_upload(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.client
        .post(format!("{}/uploads", app.address))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn status(app: &TestApp, url: &str) -> Value {
    app.get(url).await.json().await.unwrap()
}

#[tokio::test]
async fn an_upload_is_stored_whole_in_blocks_and_its_status_follows_the_result() {
    let app = spawn_app_with_azurite().await;
    // 9 MiB: three blocks of the 4 MiB the route stages.
    let mut csv = String::from("CHAS,RM,TAX,PTRATIO,B,LSTAT\n");
    while csv.len() < 9 << 20 {
        csv.push_str("0,6.575,296,15.3,396.9,4.98\n");
    }
    let answer = post_upload(&app, "text/csv", csv.clone()).await;
    assert_eq!(answer.status(), 202);
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    let accepted: Value = answer.json().await.unwrap();
    let id: Uuid = accepted["uploadId"].as_str().unwrap().parse().unwrap();
    assert_eq!(accepted["blobName"], format!("uploads/{id}.csv"));
    assert_eq!(accepted["statusUrl"], location);
    let storage = azurite_storage();
    let stored = storage
        .get_blob("uploads", &uploads::upload_name(&id))
        .await
        .unwrap()
        .unwrap();
    assert!(stored == csv.as_bytes(), "the stored file differs");

    assert_eq!(
        status(&app, &location).await,
        serde_json::json!({"status": "pending"})
    );
    // What score-upload writes when it is done.
    storage.ensure_container("results").await.unwrap();
    let result = format!("{THREE_HOUSES_CSV}scored");
    storage
        .put_blob(
            "results",
            &uploads::result_name(&uploads::upload_name(&id)),
            result.clone().into_bytes(),
            "text/csv",
        )
        .await
        .unwrap();
    let done = status(&app, &location).await;
    assert_eq!(done["status"], "succeeded");
    let download = app.get(done["resultUrl"].as_str().unwrap()).await;
    assert_eq!(download.status(), 200);
    assert!(
        download.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(download.text().await.unwrap(), result);
}

#[tokio::test]
async fn a_file_that_could_not_be_scored_reports_why() {
    let app = spawn_app_with_azurite().await;
    let answer = post_upload(
        &app,
        "text/csv; charset=utf-8",
        "CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,x,1,1,1,1\n",
    )
    .await;
    assert_eq!(answer.status(), 202);
    let accepted: Value = answer.json().await.unwrap();
    let id: Uuid = accepted["uploadId"].as_str().unwrap().parse().unwrap();
    let storage = azurite_storage();
    storage.ensure_container("results").await.unwrap();
    let error = r#"{"error":{"code":"invalid_value","message":"line 2, column \"RM\": \"x\" is not a number"}}"#;
    storage
        .put_blob(
            "results",
            &uploads::error_name(&uploads::upload_name(&id)),
            error.as_bytes().to_vec(),
            "application/json",
        )
        .await
        .unwrap();
    let status: Value = app
        .get(&format!("/uploads/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "failed");
    assert_eq!(status["error"]["code"], "invalid_value");
    let missing = app.get(&format!("/uploads/{id}/result.csv")).await;
    assert_error(missing, 404, "not_found").await;
}

/// One rule for bodies and files: UTF-16 with its byte order mark is read as `POST /predict`
/// reads it (as the Functions host reads bodies), and scored as it is stored.
#[tokio::test]
async fn a_utf16_file_with_its_byte_order_mark_is_taken_as_predict_takes_it() {
    let app = spawn_app_with_azurite().await;
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(THREE_HOUSES_CSV.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let predicted = app
        .client
        .post(format!("{}/predict", app.address))
        .header("Content-Type", "text/csv")
        .body(utf16.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(predicted.status(), 200);
    let predicted = predicted.text().await.unwrap();
    let accepted = post_upload(&app, "text/csv", utf16).await;
    assert_eq!(accepted.status(), 202);
    let accepted: Value = accepted.json().await.unwrap();
    // What score-upload makes of the stored file: the answer /predict gave.
    let storage = azurite_storage();
    let id: Uuid = accepted["uploadId"].as_str().unwrap().parse().unwrap();
    let stored = storage
        .get_blob(uploads::CONTAINER, &uploads::upload_name(&id))
        .await
        .unwrap()
        .unwrap();
    let mut scored = Vec::new();
    house_price::csv_stream::score_csv(
        &house_price::Model::embedded().unwrap(),
        stored.as_slice(),
        &mut scored,
    )
    .unwrap();
    assert_eq!(String::from_utf8(scored).unwrap(), predicted);
}

#[tokio::test]
async fn bad_uploads_are_refused_with_the_api_s_errors() {
    let app = spawn_app_with(|s| {
        s.storage = Some(crate::helpers::azurite_settings());
        s.max_upload_bytes = 1000;
    })
    .await;
    // The route takes CSV only, and says so.
    let message = assert_error(
        post_upload(&app, "application/json", "{}").await,
        415,
        "unsupported_media_type",
    )
    .await;
    assert!(message.ends_with("send text/csv"), "{message}");
    // Compressed data is told by its bytes, with or without a header.
    let gzip = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x0A,
    ];
    let message = assert_error(
        post_upload(&app, "text/csv", gzip.to_vec()).await,
        415,
        "unsupported_encoding",
    )
    .await;
    assert!(message.contains("gzip"), "{message}");
    assert_error(
        post_upload(&app, "text/csv", "x".repeat(1001)).await,
        413,
        "body_too_large",
    )
    .await;
    // A body without a length that passes the limit as it streams.
    let chunks =
        futures_util::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 100])));
    let streamed = post_upload(&app, "text/csv", reqwest::Body::wrap_stream(chunks)).await;
    assert_error(streamed, 413, "body_too_large").await;
    // The header row is checked as the file arrives; the rows when it is scored.
    assert_error(
        post_upload(&app, "text/csv", "{}").await,
        400,
        "unknown_column",
    )
    .await;
    assert_error(
        post_upload(&app, "text/csv", "").await,
        400,
        "malformed_csv",
    )
    .await;
    assert_error(app.get("/uploads/not-a-uuid").await, 400, "bad_request").await;
    let unknown = Uuid::new_v4();
    assert_error(
        app.get(&format!("/uploads/{unknown}")).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn without_storage_the_upload_routes_answer_503() {
    let app = spawn_app().await;
    assert_error(
        post_upload(&app, "text/csv", THREE_HOUSES_CSV).await,
        503,
        "unavailable",
    )
    .await;
    let id = Uuid::new_v4();
    assert_error(app.get(&format!("/uploads/{id}")).await, 503, "unavailable").await;
    assert_error(
        app.get(&format!("/uploads/{id}/result.csv")).await,
        503,
        "unavailable",
    )
    .await;
}
