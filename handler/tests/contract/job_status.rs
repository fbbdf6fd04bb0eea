//! `job-status`: the result document once `score-job` has written it, 404 while there is
//! none, 400 for an id that is not a UUID (before storage is asked), and 503 with
//! `Retry-After` when storage is not there. The function reads `results/<id>.json` itself,
//! on Azurite here (`AZURITE_CONNECTION_STRING`).

use serde_json::Value;

use crate::helpers::{azurite_storage, fixture, parse, spawn, spawn_app, state};

/// The found fixture for a fresh job id, and that id.
fn envelope_for_new_job(fixture_text: &str) -> (Value, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let mut envelope = parse(fixture_text);
    envelope["Data"]["req"]["Params"]["id"] = id.clone().into();
    (envelope, id)
}

async fn spawn_with_storage() -> crate::helpers::TestApp {
    let mut state = state();
    state.storage = Some(azurite_storage());
    spawn(house_price_functions::app(state)).await
}

#[tokio::test]
async fn job_status_answers_200_with_the_result_document_as_stored() {
    let app = spawn_with_storage().await;
    let (envelope, id) = envelope_for_new_job(fixture!("job_status_found.json"));
    let document = format!(
        r#"{{"jobId":"{id}","status":"succeeded","modelVersion":"boston-gbrt-v1-00533a0c","rows":1,"predictions":[25.03]}}"#
    );
    let storage = azurite_storage();
    storage.ensure_container("results").await.unwrap();
    storage
        .put_blob_path(
            &format!("results/{id}.json"),
            document.clone().into_bytes(),
            "application/json",
        )
        .await
        .unwrap();
    let invoked = app.invoke_json("job-status", &envelope).await;
    invoked.assert_completed();
    let res = invoked.res();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.content_type, "application/json");
    assert_eq!(res.body, document);
    assert_eq!(res.json()["status"], "succeeded");
}

#[tokio::test]
async fn job_status_answers_404_pending_or_unknown_when_there_is_no_result() {
    let app = spawn_with_storage().await;
    let (envelope, _) = envelope_for_new_job(fixture!("job_status_missing.json"));
    let invoked = app.invoke_json("job-status", &envelope).await;
    invoked.assert_completed();
    let res = invoked.res();
    assert_eq!(res.status, 404);
    assert_eq!(res.content_type, "application/json");
    assert_eq!(
        res.json(),
        serde_json::json!({"status": "pending-or-unknown"})
    );
}

#[tokio::test]
async fn job_status_returns_400_for_an_id_that_is_not_a_uuid_before_storage_is_asked() {
    // No storage at all: a bad id is still the client's 400, not the 503 of no storage.
    let app = spawn_app().await;
    let invoked = app
        .invoke("job-status", fixture!("job_status_bad_id.json"))
        .await;
    invoked.assert_completed();
    let message = invoked.res().assert_error(400, "bad_request");
    assert_eq!(message, "job id \"../x\" is not a UUID");
    let long = "a".repeat(60_000);
    for id in [
        "not-a-uuid",
        "../x",
        "",
        "..%2Fjob-inputs%2Fx",
        long.as_str(),
    ] {
        let mut envelope = parse(fixture!("job_status_bad_id.json"));
        envelope["Data"]["req"]["Params"]["id"] = id.into();
        let invoked = app.invoke_json("job-status", &envelope).await;
        invoked.assert_completed();
        let message = invoked.res().assert_error(400, "bad_request");
        assert!(message.len() < 120, "{message}");
    }
}

#[tokio::test]
async fn job_status_without_storage_is_a_503_with_retry_after() {
    let app = spawn_app().await;
    let (envelope, _) = envelope_for_new_job(fixture!("job_status_missing.json"));
    let invoked = app.invoke_json("job-status", &envelope).await;
    invoked.assert_completed();
    let res = invoked.res();
    res.assert_error(503, "unavailable");
    assert_eq!(res.retry_after.as_deref(), Some("5"));
}
