//! `POST /jobs` and `GET /jobs/{id}`: without storage, and against Azurite, looking behind
//! the API at the real queue and blobs that the Functions app's `score-job` reads.

use house_price::Model;
use house_price::api::Limits;
use house_price::jobs::{self, JobMessage, JobStatus};
use serde_json::Value;
use storage::StorageSettings;
use uuid::Uuid;
use webapp::configuration::STORAGE_PREFIX;

use crate::helpers::{
    FIRST_ROW, THREE_HOUSES_CSV, assert_error, azurite, azurite_settings, azurite_storage,
    free_port, queued_message, records, spawn_app, spawn_app_with, spawn_app_with_azurite,
    take_message,
};

const NO_STORAGE: &str = "background jobs need storage: set AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__accountName";

#[tokio::test]
async fn without_storage_both_job_routes_answer_503_saying_how_to_configure_it_while_predict_works()
{
    let app = spawn_app().await;
    let message = assert_error(
        app.post_job("text/csv", THREE_HOUSES_CSV).await,
        503,
        "unavailable",
    )
    .await;
    assert_eq!(message, NO_STORAGE);
    let id = Uuid::new_v4();
    let message = assert_error(app.get(&format!("/jobs/{id}")).await, 503, "unavailable").await;
    assert_eq!(message, NO_STORAGE);

    assert_eq!(app.predictions(FIRST_ROW).await.len(), 1);
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(app.get("/").await.status(), 200);
}

#[tokio::test]
async fn a_submitted_job_is_queued_base64_encoded_with_its_rows_for_score_job() {
    let app = spawn_app_with_azurite().await;
    let storage = azurite_storage();
    let response = app.post_job("text/csv", THREE_HOUSES_CSV).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(response.headers()["content-type"], "application/json");
    let accepted: Value = response.json().await.unwrap();
    let id = accepted["jobId"].as_str().unwrap().to_owned();
    assert!(Uuid::try_parse(&id).is_ok(), "{id}");
    assert_eq!(accepted["status"], "queued");
    assert_eq!(accepted["statusUrl"], format!("/jobs/{id}"));
    assert_eq!(location, format!("/jobs/{id}"));

    let (wire, message) = queued_message(&storage, &id).await;
    assert!(
        !wire.trim_start().starts_with('{'),
        "the message must be base64 on the wire, not JSON: {wire}"
    );
    assert_eq!(
        message["features"],
        serde_json::json!(["CHAS", "RM", "TAX", "PTRATIO", "B", "LSTAT"])
    );
    assert_eq!(message["rowCount"], 3);
    let rows = message["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0],
        serde_json::json!([0.0, 6.575, 296.0, 15.3, 396.9, 4.98])
    );
    assert!(message.get("rowsBlob").is_none(), "{message}");
    assert!(message["submittedAt"].is_string(), "{message}");
    // Every field, submittedAt as RFC 3339 included, reads back as the shared job type.
    let typed: JobMessage = serde_json::from_value(message.clone()).unwrap();
    assert_eq!(typed.job_id.to_string(), id);

    // What score-job will do with it: the message as decoded is a valid job.
    let text = take_message(&storage, &id).await;
    let result = jobs::score(&Model::embedded().unwrap(), &text, None).unwrap();
    assert_eq!(result.status, JobStatus::Succeeded);
    assert_eq!(result.job_id.to_string(), id);
    assert_eq!(result.predictions.len(), 3);
}

#[tokio::test]
async fn a_5000_row_job_keeps_its_rows_in_a_blob_and_the_message_points_at_it() {
    let app = spawn_app_with_azurite().await;
    let storage = azurite_storage();
    let body = records(5_000).to_string();
    let id = app.submit_job("application/json", body.clone()).await;

    let (wire, message) = queued_message(&storage, &id).await;
    let path = format!("job-inputs/{id}.json");
    assert_eq!(message["rowsBlob"], path);
    assert_eq!(message["rowCount"], 5_000);
    assert_eq!(message["rows"], serde_json::json!([]));
    assert!(wire.len() < 1_000, "the message only points at the rows");

    let blob = storage
        .get_blob_path(&path)
        .await
        .unwrap()
        .expect("the rows blob exists");
    let rows: Vec<[f64; 6]> = serde_json::from_slice(&blob).unwrap();
    assert_eq!(rows.len(), 5_000);
    assert_eq!(rows[1], [1.0, 5.1, 296.0, 15.3, 396.9, 5.98]);

    // score-job reads the blob the message names and scores every row.
    let text = take_message(&storage, &id).await;
    let result = jobs::score(&Model::embedded().unwrap(), &text, Some(&blob)).unwrap();
    assert_eq!(result.status, JobStatus::Succeeded);
    assert_eq!(result.predictions, app.predictions(&body).await);
}

#[tokio::test]
async fn jobs_take_batches_larger_than_predict_allows() {
    let app = spawn_app_with_azurite().await;
    let storage = azurite_storage();
    let body = records(20_000).to_string();
    assert!(body.len() > Limits::default().max_body_bytes);
    assert_eq!(app.post_json(&body).await.status(), 413);
    let id = app.submit_job("application/json", body).await;
    let text = take_message(&storage, &id).await;
    assert!(text.contains("\"rowCount\":20000"), "{text}");
}

#[tokio::test]
async fn the_job_limits_come_from_max_job_rows_and_max_job_body_bytes() {
    let settings = azurite_settings();
    let app = spawn_app_with(|s| {
        s.storage = Some(settings);
        s.job_limits = Limits {
            max_body_bytes: 4096,
            max_rows: 2,
        };
    })
    .await;
    let message = assert_error(
        app.post_job("application/json", records(3).to_string())
            .await,
        413,
        "too_many_rows",
    )
    .await;
    assert!(message.contains('2'), "{message}");
    let message = assert_error(
        app.post_job("application/json", " ".repeat(5000)).await,
        413,
        "body_too_large",
    )
    .await;
    assert!(message.contains("4096"), "{message}");
}

#[tokio::test]
async fn an_invalid_or_empty_batch_is_refused_with_the_same_errors_as_predict() {
    let app = spawn_app_with_azurite().await;
    let missing = r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9}"#;
    let message = assert_error(
        app.post_job("application/json", missing).await,
        400,
        "missing_feature",
    )
    .await;
    let predict: Value = app.post_json(missing).await.json().await.unwrap();
    assert_eq!(message, predict["error"]["message"]);

    for (content_type, empty) in [
        ("application/json", "[]"),
        ("text/csv", "CHAS,RM,TAX,PTRATIO,B,LSTAT\n"),
    ] {
        let message =
            assert_error(app.post_job(content_type, empty).await, 400, "bad_request").await;
        assert_eq!(message, "the batch has no rows");
    }
    assert_error(
        app.post_job("text/plain", FIRST_ROW).await,
        415,
        "unsupported_media_type",
    )
    .await;
    let response = app.request(reqwest::Method::GET, "/jobs").await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
}

#[tokio::test]
async fn get_jobs_returns_the_result_document_exactly_as_stored() {
    let app = spawn_app_with_azurite().await;
    let storage = azurite_storage();
    storage.ensure_container("results").await.unwrap();
    // A result as score-job writes it, for a job of one row.
    let message =
        JobMessage::new(&[house_price::Row::new([0.0, 6.575, 296.0, 15.3, 396.9, 4.98]).unwrap()]);
    let result = jobs::score(&Model::embedded().unwrap(), &message.to_json(), None).unwrap();
    let document = result.to_json();
    let id = message.job_id;
    storage
        .put_blob_path(
            &jobs::result_path(&id),
            document.clone().into_bytes(),
            "application/json",
        )
        .await
        .unwrap();

    let response = app.get(&format!("/jobs/{id}")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.text().await.unwrap(), document);
}

#[tokio::test]
async fn get_jobs_answers_404_pending_or_unknown_for_a_job_without_a_result() {
    let app = spawn_app_with_azurite().await;
    let response = app.get(&format!("/jobs/{}", Uuid::new_v4())).await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "pending-or-unknown"}));
}

#[tokio::test]
async fn get_jobs_answers_400_for_an_id_that_is_not_a_uuid() {
    let app = spawn_app_with_azurite().await;
    let message = assert_error(app.get("/jobs/not-a-uuid").await, 400, "bad_request").await;
    assert_eq!(message, "job id \"not-a-uuid\" is not a UUID");
    // Encoded path tricks are ids like any other, and not UUIDs either.
    assert_error(
        app.get("/jobs/..%2Fjob-inputs%2Fx").await,
        400,
        "bad_request",
    )
    .await;
    let response = app
        .request(reqwest::Method::POST, &format!("/jobs/{}", Uuid::new_v4()))
        .await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
}

#[tokio::test]
async fn unreachable_storage_answers_503_and_the_app_still_starts_and_predicts() {
    let port = free_port();
    let settings = StorageSettings::from_lookup(STORAGE_PREFIX, |name| {
        (name == STORAGE_PREFIX).then(|| {
            format!(
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1",
                storage::settings::DEV_ACCOUNT_KEY
            )
        })
    })
    .unwrap();
    let app = spawn_app_with(|s| s.storage = Some(settings)).await;
    assert_eq!(app.predictions(FIRST_ROW).await.len(), 1);
    let message = assert_error(
        app.post_job("text/csv", THREE_HOUSES_CSV).await,
        503,
        "unavailable",
    )
    .await;
    assert!(
        message.starts_with("storage is not reachable right now"),
        "{message}"
    );
    assert!(
        !message.contains(&port.to_string()),
        "no endpoint in the body: {message}"
    );
    assert_error(
        app.get(&format!("/jobs/{}", Uuid::new_v4())).await,
        503,
        "unavailable",
    )
    .await;
}

#[tokio::test]
async fn storage_that_refuses_the_key_gets_a_503_with_retry_after_and_no_detail() {
    let wrong_key = "d3Jvbmcga2V5IGZvciB0aGUgdGVzdCwgbm90IEF6dXJpdGUncyBrZXk=";
    let connection = azurite()
        .split(';')
        .map(|part| {
            if part.trim().to_ascii_lowercase().starts_with("accountkey=") {
                format!("AccountKey={wrong_key}")
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(";");
    let settings = StorageSettings::parse_connection_string(STORAGE_PREFIX, &connection).unwrap();
    let app = spawn_app_with(|s| s.storage = Some(settings)).await;
    let response = app.post_job("text/csv", THREE_HOUSES_CSV).await;
    assert_eq!(response.headers()["retry-after"], "5");
    let message = assert_error(response, 503, "unavailable").await;
    assert_eq!(
        message,
        "storage refused the request, so the job could not be queued: try again later"
    );
    let response = app.get(&format!("/jobs/{}", Uuid::new_v4())).await;
    assert_eq!(response.headers()["retry-after"], "5");
    assert_error(response, 503, "unavailable").await;
}

#[tokio::test]
async fn post_jobs_heals_by_itself_when_the_queue_and_containers_are_deleted() {
    let app = spawn_app_with_azurite().await;
    let storage = azurite_storage();
    // A first job creates what jobs need, as on any fresh start.
    let first = app.submit_job("text/csv", THREE_HOUSES_CSV).await;
    take_message(&storage, &first).await;
    // Storage is reset under the running app (Azurite restarted, or someone deleted them).
    storage.delete_queue(jobs::QUEUE).await.unwrap();
    storage
        .delete_container(jobs::INPUTS_CONTAINER)
        .await
        .unwrap();
    // A 5,000-row job needs both the container (its rows) and the queue.
    let id = app
        .submit_job("application/json", records(5_000).to_string())
        .await;
    let (_, message) = queued_message(&storage, &id).await;
    let blob = message["rowsBlob"].as_str().unwrap().to_owned();
    assert!(
        storage.get_blob_path(&blob).await.unwrap().is_some(),
        "{blob}"
    );
    take_message(&storage, &id).await;
}

#[tokio::test]
async fn the_documented_job_answers_are_the_ones_the_server_gives() {
    let app = spawn_app_with_azurite().await;
    let storage = azurite_storage();
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let submit = &doc["paths"]["/jobs"]["post"]["responses"];
    let status = &doc["paths"]["/jobs/{id}"]["get"]["responses"];
    let example = |responses: &Value, code: &str| {
        responses[code]["content"]["application/json"]["example"].clone()
    };
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };

    let response = app.post_job("text/csv", THREE_HOUSES_CSV).await;
    assert_eq!(response.status(), 202);
    assert!(submit["202"]["headers"]["Location"].is_object(), "{submit}");
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(keys(&example(submit, "202")), keys(&accepted));
    let id = accepted["jobId"].as_str().unwrap().to_owned();
    take_message(&storage, &id).await;

    let real: Value = app
        .post_job("application/json", "[]")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(example(submit, "400"), real);

    let real: Value = app.get(&format!("/jobs/{id}")).await.json().await.unwrap();
    assert_eq!(example(status, "404"), real);
    let real: Value = app.get("/jobs/not-a-uuid").await.json().await.unwrap();
    assert_eq!(example(status, "400"), real);

    let off = spawn_app().await;
    let real: Value = off
        .post_job("text/csv", THREE_HOUSES_CSV)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(example(submit, "503"), real);
    let real: Value = off.get(&format!("/jobs/{id}")).await.json().await.unwrap();
    assert_eq!(example(status, "503"), real);

    // A result as score-job writes it has the documented fields.
    let text = serde_json::json!({
        "jobId": id, "submittedAt": "2026-01-01T12:00:00Z",
        "features": ["CHAS", "RM", "TAX", "PTRATIO", "B", "LSTAT"],
        "rows": [[0.0, 6.575, 296.0, 15.3, 396.9, 4.98]], "rowCount": 1
    })
    .to_string();
    let result = jobs::score(&Model::embedded().unwrap(), &text, None).unwrap();
    storage.ensure_container("results").await.unwrap();
    storage
        .put_blob_path(
            &jobs::result_path(&result.job_id),
            result.to_json().into_bytes(),
            "application/json",
        )
        .await
        .unwrap();
    let real: Value = app.get(&format!("/jobs/{id}")).await.json().await.unwrap();
    assert_eq!(keys(&example(status, "200")), keys(&real));
    let schema = &doc["components"]["schemas"]["JobResultDocument"]["properties"];
    for key in keys(&real) {
        assert!(schema.get(&key).is_some(), "{key} is not documented");
    }
}

/// A client that did not get its answer (a 503, a reset connection) sends the same request
/// again with the same `Idempotency-Key`: it is the same job, not a second one.
#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_is_the_same_job() {
    let app = spawn_app_with_azurite().await;
    let post = |key: &'static str, body: &'static str| {
        app.client
            .post(format!("{}/jobs", app.address))
            .header("Content-Type", "text/csv")
            .header("Idempotency-Key", key)
            .body(body)
            .send()
    };
    let id = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 202);
        let accepted: Value = response.json().await.unwrap();
        accepted["jobId"].as_str().unwrap().to_owned()
    };
    let first = id(post("order-7", THREE_HOUSES_CSV).await.unwrap()).await;
    let again = id(post("order-7", THREE_HOUSES_CSV).await.unwrap()).await;
    assert_eq!(first, again);
    // The key may come as the draft's quoted string.
    let quoted = id(post("\"order-7\"", THREE_HOUSES_CSV).await.unwrap()).await;
    assert_eq!(first, quoted);
    let other = id(post("order-8", THREE_HOUSES_CSV).await.unwrap()).await;
    assert_ne!(first, other);
    // The Functions app's submit-job derives the same id from the same request.
    assert_eq!(
        first,
        jobs::job_id(
            Some("order-7"),
            Some("text/csv"),
            THREE_HOUSES_CSV.as_bytes()
        )
        .to_string()
    );
    let refused = post("", THREE_HOUSES_CSV).await.unwrap();
    let message = assert_error(refused, 400, "bad_request").await;
    assert!(message.contains("Idempotency-Key"), "{message}");
}
