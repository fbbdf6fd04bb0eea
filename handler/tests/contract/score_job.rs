//! `score-job`: a job message in, a result document out. Invalid jobs complete with a `failed`
//! result (no retry can help); a message with no job id fails so the host retries it into poison.

use house_price::features::Row;
use house_price::jobs::{JobResult, JobStatus};
use time::macros::datetime;

use crate::helpers::{Invoked, fixture, model, parse, score_envelope, spawn_app};

const JOB_ID: &str = "5b0f2e8c-0c4e-4d7f-9a51-0f6a0d5e3c21";

/// The three rows every job fixture carries.
fn three_rows() -> Vec<Row> {
    [
        [0.0, 6.575, 296.0, 15.3, 396.9, 4.98],
        [0.0, 6.421, 242.0, 17.8, 396.9, 9.14],
        [0.0, 7.185, 242.0, 17.8, 392.83, 4.03],
    ]
    .into_iter()
    .map(|r| Row::new(r).unwrap())
    .collect()
}

/// The `result` blob output: the document's exact bytes, sent as base64.
fn result_text(invoked: &Invoked) -> String {
    let text = invoked.output_text("result");
    assert!(text.starts_with('{'), "{text}");
    text
}

fn result(invoked: &Invoked) -> JobResult {
    let text = result_text(invoked);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not a result document ({e}): {text}"))
}

/// Checks the succeeded result of the three-row fixture job.
fn assert_three_rows_scored(invoked: &Invoked) -> JobResult {
    invoked.assert_completed();
    let result = result(invoked);
    assert_eq!(result.job_id.to_string(), JOB_ID);
    assert_eq!(result.status, JobStatus::Succeeded);
    assert_eq!(result.model_version, model().version());
    assert_eq!(result.rows, 3);
    assert_eq!(result.predictions, model().predict_all(&three_rows()));
    assert_eq!(result.error, None);
    assert_eq!(
        result.submitted_at,
        Some(datetime!(2024-05-13 09:21:40 UTC))
    );
    let logs = invoked.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains(JOB_ID) && l.contains("3 rows")),
        "{logs:?}"
    );
    result
}

#[tokio::test]
async fn score_job_scores_a_double_encoded_core_tools_message() {
    let app = spawn_app().await;
    let invoked = app
        .invoke("score-job", fixture!("score_job_message_core_tools.json"))
        .await;
    assert_three_rows_scored(&invoked);
    // The first house is worth 24.0, the third 34.7 ($1000s).
    let prices = result(&invoked).predictions;
    assert!((prices[0] - 24.0).abs() < 4.0, "{prices:?}");
    assert!(prices[2] > prices[0], "{prices:?}");
}

#[tokio::test]
async fn score_job_writes_a_failed_result_with_the_reason_for_invalid_rows_and_does_not_ask_for_a_retry()
 {
    let app = spawn_app().await;
    let invoked = app
        .invoke("score-job", fixture!("score_job_invalid_rows.json"))
        .await;
    // 2xx: the host completes the message instead of retrying it.
    invoked.assert_completed();
    let result = result(&invoked);
    assert_eq!(result.job_id.to_string(), JOB_ID);
    assert_eq!(result.status, JobStatus::Failed);
    assert_eq!(result.rows, 0);
    assert!(result.predictions.is_empty());
    let error = result.error.unwrap();
    assert_eq!(error.code, "invalid_value");
    assert_eq!(error.message, "row 1, column \"CHAS\": 3 must be 0 or 1");
    let logs = invoked.logs();
    assert!(logs.iter().any(|l| l.contains("Failed")), "{logs:?}");
}

#[tokio::test]
async fn score_job_fails_the_invocation_for_a_message_without_a_job_id_so_the_host_retries_it() {
    let app = spawn_app().await;
    let invoked = app
        .invoke("score-job", fixture!("score_job_no_job_id.json"))
        .await;
    // Non-2xx: the host retries, then moves the message to the poison queue intact.
    assert_eq!(invoked.status, 500, "{}", invoked.body);
    assert_eq!(invoked.body["error"]["code"], "transient_failure");
    let message = invoked.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("no usable jobId"), "{message}");
    assert!(invoked.body.get("Outputs").is_none(), "{}", invoked.body);
}

#[tokio::test]
async fn score_job_rewrites_an_existing_result_byte_for_byte() {
    let app = spawn_app().await;
    let envelope = parse(fixture!("score_job_existing_result.json"));
    // The host sends the text blob serialised once more (ScriptInvocationContextExtensions.cs).
    let existing: String =
        serde_json::from_str(envelope["Data"]["existing"].as_str().unwrap()).unwrap();
    let invoked = app.invoke_json("score-job", &envelope).await;
    invoked.assert_completed();
    assert_eq!(result_text(&invoked), existing);
    let logs = invoked.logs();
    assert!(
        logs.iter().any(|l| l.contains("already written")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn score_job_gives_the_same_predictions_when_a_message_is_delivered_twice() {
    let app = spawn_app().await;
    let first = app
        .invoke("score-job", fixture!("score_job_message_core_tools.json"))
        .await;
    let second = app
        .invoke("score-job", fixture!("score_job_message_core_tools.json"))
        .await;
    let (first, second) = (
        assert_three_rows_scored(&first),
        assert_three_rows_scored(&second),
    );
    assert_eq!(first.job_id, second.job_id);
    assert_eq!(first.predictions, second.predictions);
    assert_eq!(first.submitted_at, second.submitted_at);
}

/// A claim-check message for the three rows: `rowsBlob` instead of inline rows.
fn claim_check_message() -> String {
    format!(
        r#"{{"jobId":"{JOB_ID}","submittedAt":"2024-05-13T09:21:40Z","features":["CHAS","RM","TAX","PTRATIO","B","LSTAT"],"rowsBlob":"job-inputs/{JOB_ID}.json","rowCount":3}}"#
    )
}

#[tokio::test]
async fn score_job_reads_a_claim_checked_jobs_rows_from_the_rows_input() {
    let app = spawn_app().await;
    let rows = "[[0.0,6.575,296.0,15.3,396.9,4.98],[0.0,6.421,242.0,17.8,396.9,9.14],[0.0,7.185,242.0,17.8,392.83,4.03]]";
    let mut envelope = score_envelope(&claim_check_message());
    envelope["Data"]["rows"] = serde_json::to_string(rows).unwrap().into();
    let invoked = app.invoke_json("score-job", &envelope).await;
    assert_three_rows_scored(&invoked);
}

#[tokio::test]
async fn score_job_fails_a_claim_checked_job_whose_rows_blob_is_missing() {
    // A missing blob arrives as the string `null` (the envelope's `rows`): missing, not malformed.
    let app = spawn_app().await;
    let invoked = app
        .invoke_json("score-job", &score_envelope(&claim_check_message()))
        .await;
    invoked.assert_completed();
    let result = result(&invoked);
    assert_eq!(result.status, JobStatus::Failed);
    let error = result.error.unwrap();
    assert_eq!(error.code, "rows_missing");
    assert!(
        error.message.contains(&format!("job-inputs/{JOB_ID}.json")),
        "{}",
        error.message
    );
}
