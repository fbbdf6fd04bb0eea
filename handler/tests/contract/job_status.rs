//! `job-status`: the result document when the host bound one, 404 while there is none, and
//! 400 for an id that is not a UUID.

use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::helpers::{Invoked, fixture, parse, spawn_app};

/// The found fixture and its document: the host sends the text blob serialised once more.
fn found_document() -> (Value, String) {
    let envelope = parse(fixture!("job_status_found.json"));
    let document = serde_json::from_str(envelope["Data"]["result"].as_str().unwrap()).unwrap();
    (envelope, document)
}

fn assert_document_answered(invoked: &Invoked, document: &str) {
    invoked.assert_completed();
    let res = invoked.res();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.content_type, "application/json");
    assert_eq!(res.body, document);
}

#[tokio::test]
async fn job_status_answers_200_with_the_result_document_sent_as_a_string() {
    let app = spawn_app().await;
    let (_, document) = found_document();
    let invoked = app
        .invoke("job-status", fixture!("job_status_found.json"))
        .await;
    assert_document_answered(&invoked, &document);
    assert_eq!(invoked.res().json()["status"], "succeeded");
}

#[tokio::test]
async fn job_status_never_guesses_base64_and_refuses_a_shape_the_host_never_sends() {
    // The old runtime read the string `null` as base64 and answered 200 with garbage.
    let app = spawn_app().await;
    let (envelope, document) = found_document();
    let mut bare = envelope.clone();
    bare["Data"]["result"] = base64::Engine::encode(&STANDARD, &document).into();
    let invoked = app.invoke_json("job-status", &bare).await;
    invoked.assert_completed();
    let message = invoked.res().assert_error(500, "internal_error");
    assert_eq!(message, "the function failed");
    assert!(
        invoked
            .logs()
            .iter()
            .any(|l| l.contains("declared as text")),
        "{:?}",
        invoked.logs()
    );
}

#[tokio::test]
async fn job_status_answers_404_pending_or_unknown_when_there_is_no_result() {
    let app = spawn_app().await;
    let invoked = app
        .invoke("job-status", fixture!("job_status_missing.json"))
        .await;
    invoked.assert_completed();
    let res = invoked.res();
    assert_eq!(res.status, 404);
    assert_eq!(res.content_type, "application/json");
    assert_eq!(
        res.json(),
        serde_json::json!({"status": "pending-or-unknown"})
    );
    // JSON null is read as absent too.
    let mut envelope = parse(fixture!("job_status_missing.json"));
    envelope["Data"]["result"] = Value::Null;
    assert_eq!(
        app.invoke_json("job-status", &envelope).await.res().status,
        404
    );
}

#[tokio::test]
async fn job_status_returns_400_for_an_id_that_is_not_a_uuid() {
    let app = spawn_app().await;
    let invoked = app
        .invoke("job-status", fixture!("job_status_bad_id.json"))
        .await;
    invoked.assert_completed();
    let message = invoked.res().assert_error(400, "bad_request");
    assert_eq!(message, "job id \"../x\" is not a UUID");
    let (_, document) = found_document();
    for id in ["not-a-uuid", "../x", ""] {
        let mut envelope = parse(fixture!("job_status_bad_id.json"));
        envelope["Data"]["req"]["Params"]["id"] = id.into();
        // Even with a document bound, nothing is answered for a bad id.
        envelope["Data"]["result"] = serde_json::to_string(&document).unwrap().into();
        let invoked = app.invoke_json("job-status", &envelope).await;
        invoked.assert_completed();
        let message = invoked.res().assert_error(400, "bad_request");
        assert_eq!(message, format!("job id \"{id}\" is not a UUID"));
    }
}
