//! `submit-job`: a valid batch is answered 202 and queued as exactly one `msg`; anything else
//! is refused with the caller's status and nothing is queued.

use house_price::api::PredictResponse;
use house_price::features::FEATURES;
use house_price::jobs::{JobMessage, JobResult, JobStatus};
use serde_json::Value;

use crate::helpers::{
    Invoked, expected_predict, fixture, records, score_envelope, spawn_app, submit_envelope,
};

/// The `msg` output: the exact bytes of one job message, sent as base64.
fn queued_message(invoked: &Invoked) -> (String, JobMessage) {
    let text = invoked.output_text("msg");
    let message: JobMessage = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("msg is not a job message ({e}): {text}"));
    assert_eq!(text, message.to_json(), "the message is compact JSON");
    (text, message)
}

/// Asserts the invocation refused the batch with `status`/`code` and queued nothing.
fn assert_refused(invoked: &Invoked, status: u16, code: &str) -> String {
    invoked.assert_completed();
    assert!(
        !invoked.has_output("msg"),
        "nothing may be queued for a refused batch: {}",
        invoked.body
    );
    invoked.res().assert_error(status, code)
}

#[tokio::test]
async fn submit_job_answers_202_and_queues_the_rows_as_one_message() {
    let app = spawn_app().await;
    let invoked = app
        .invoke("submit-job", fixture!("submit_job_three_rows.json"))
        .await;
    invoked.assert_completed();
    let res = invoked.res();
    assert_eq!(res.status, 202, "{}", res.body);
    assert_eq!(res.content_type, "application/json");
    let accepted = res.json();
    let (_, message) = queued_message(&invoked);
    let id = message.job_id.to_string();
    assert_eq!(
        accepted,
        serde_json::json!({"jobId": id, "status": "queued", "statusUrl": format!("/api/jobs/{id}")})
    );
    assert_eq!(message.job_id.get_version_num(), 4);
    assert_eq!(message.features, FEATURES);
    assert_eq!(message.row_count, 3);
    assert_eq!(message.rows_blob, None);
    assert_eq!(
        message.rows,
        vec![
            [0.0, 6.575, 296.0, 15.3, 396.9, 4.98],
            [0.0, 6.421, 242.0, 17.8, 396.9, 9.14],
            [0.0, 7.185, 242.0, 17.8, 392.83, 4.03],
        ]
    );
    let logs = invoked.logs();
    assert!(
        logs.iter().any(|l| l.contains(&id) && l.contains("3 rows")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn submit_job_gives_every_submission_its_own_job_id() {
    let app = spawn_app().await;
    let first = app
        .invoke("submit-job", fixture!("submit_job_three_rows.json"))
        .await;
    let second = app
        .invoke("submit-job", fixture!("submit_job_three_rows.json"))
        .await;
    assert_ne!(
        queued_message(&first).1.job_id,
        queued_message(&second).1.job_id
    );
}

/// The same `Idempotency-Key` and body make the same job as in the web app
/// (`house_price::jobs::job_id`), so a client may retry a submission it got no answer for.
#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_is_the_same_job() {
    let app = spawn_app().await;
    let with_key = |key: &str| {
        let mut envelope: Value =
            serde_json::from_str(fixture!("submit_job_three_rows.json")).unwrap();
        envelope["Data"]["req"]["Headers"]["Idempotency-Key"] = serde_json::json!([key]);
        envelope
    };
    let first = app.invoke_json("submit-job", &with_key("order-7")).await;
    let again = app.invoke_json("submit-job", &with_key("order-7")).await;
    let other = app.invoke_json("submit-job", &with_key("order-8")).await;
    let (first, again, other) = (
        queued_message(&first).1.job_id,
        queued_message(&again).1.job_id,
        queued_message(&other).1.job_id,
    );
    assert_eq!(first, again);
    assert_ne!(first, other);
    let refused = app.invoke_json("submit-job", &with_key("")).await;
    let message = assert_refused(&refused, 400, "bad_request");
    assert!(message.contains("Idempotency-Key"), "{message}");
}

#[tokio::test]
async fn a_queued_job_scores_to_the_prices_predict_gives_for_the_same_rows() {
    let app = spawn_app().await;
    let submitted = app
        .invoke("submit-job", fixture!("submit_job_three_rows.json"))
        .await;
    let (text, message) = queued_message(&submitted);
    let scored = app.invoke_json("score-job", &score_envelope(&text)).await;
    scored.assert_completed();
    let result: JobResult = serde_json::from_str(&scored.output_text("result")).unwrap();
    assert_eq!(result.job_id, message.job_id);
    assert_eq!(result.status, JobStatus::Succeeded);
    let envelope: Value = serde_json::from_str(fixture!("submit_job_three_rows.json")).unwrap();
    let body = envelope["Data"]["req"]["Body"].as_str().unwrap();
    let reply = expected_predict(Some("application/json"), body.as_bytes()).unwrap();
    let predicted: PredictResponse = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(result.predictions, predicted.prediction);
}

#[tokio::test]
async fn submit_job_returns_400_and_queues_nothing_for_an_invalid_batch() {
    let app = spawn_app().await;
    let invoked = app
        .invoke("submit-job", fixture!("submit_job_invalid_batch.json"))
        .await;
    let message = assert_refused(&invoked, 400, "invalid_value");
    assert_eq!(message, "row 1, column \"CHAS\": 2 must be 0 or 1");
}

#[tokio::test]
async fn submit_job_returns_400_and_queues_nothing_for_an_empty_batch() {
    let app = spawn_app().await;
    let invoked = app
        .invoke_json(
            "submit-job",
            &submit_envelope(Some("application/json"), Some("[]")),
        )
        .await;
    let message = assert_refused(&invoked, 400, "bad_request");
    assert_eq!(message, "the batch has no rows");
    let invoked = app
        .invoke_json("submit-job", &submit_envelope(None, None))
        .await;
    assert_refused(&invoked, 400, "malformed_json");
    let invoked = app
        .invoke_json(
            "submit-job",
            &submit_envelope(Some("text/csv"), Some("CHAS,RM,TAX,PTRATIO,B,LSTAT\n")),
        )
        .await;
    assert_refused(&invoked, 400, "bad_request");
}

#[tokio::test]
async fn submit_job_returns_415_and_queues_nothing_for_a_content_type_it_cannot_read() {
    let app = spawn_app().await;
    let invoked = app
        .invoke_json(
            "submit-job",
            &submit_envelope(Some("text/plain"), Some(&records(3))),
        )
        .await;
    assert_refused(&invoked, 415, "unsupported_media_type");
}

#[tokio::test]
async fn submit_job_returns_503_for_a_batch_too_large_for_one_message_without_storage() {
    let app = spawn_app().await;
    let invoked = app
        .invoke_json(
            "submit-job",
            &submit_envelope(Some("application/json"), Some(&records(5_000))),
        )
        .await;
    let message = assert_refused(&invoked, 503, "unavailable");
    assert!(message.contains("5000 rows"), "{message}");
    assert!(
        message.contains("too large for one queue message"),
        "{message}"
    );
    assert!(message.contains("set AzureWebJobsStorage"), "{message}");
}
