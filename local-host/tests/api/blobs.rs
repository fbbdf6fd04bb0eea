use crate::helpers::{spawn_app, spawn_with};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn a_blob_input_is_text_by_its_declaration_and_the_string_null_when_missing() {
    // No dataType: text, serialised once more; a 404 binds null, sent as the string `null`
    // (ScriptInvocationContextExtensions.cs; ReadBlobArgumentBinding.cs in the blob extension).
    let app = spawn_app("app").await;
    let inputs = &app.names.inputs;
    app.storage.ensure_container(inputs).await.unwrap();
    app.storage
        .put_blob(inputs, "present.txt", b"hello blob".to_vec(), "text/plain")
        .await
        .unwrap();
    let present: Value = app.get("/api/blobs/present").await.json().await.unwrap();
    assert_eq!(present["data"], json!("\"hello blob\""));
    let missing: Value = app.get("/api/blobs/missing").await.json().await.unwrap();
    assert_eq!(missing["data"], json!("null"));
    app.stop().await;
}

#[tokio::test]
async fn string_outputs_that_parse_as_base64_are_written_as_bytes_unless_binary() {
    let app = spawn_app("app").await;
    let response = app
        .client
        .post(app.url("/api/bytes/n1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let results = &app.names.results;
    let decoded = app
        .storage
        .get_blob(results, "n1-decoded.txt")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decoded, b"hello");
    let raw = app
        .storage
        .get_blob(results, "n1-raw.txt")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raw, b"aGVsbG8=");
    app.stop().await;
}

#[tokio::test]
async fn a_timer_function_fires_on_its_schedule_with_the_timer_info() {
    let app = spawn_with("app", |o| o.setting("TICK_SCHEDULE", "* * * * * *")).await;
    let results = app.names.results.clone();
    let name = app
        .eventually("a tick blob", Duration::from_secs(10), || {
            let (storage, results) = (app.storage.clone(), results.clone());
            async move {
                let names = storage.list_blobs(&results, Some("tick-")).await.ok()?;
                names.into_iter().next()
            }
        })
        .await;
    let guid = name.trim_start_matches("tick-").trim_end_matches(".json");
    assert!(uuid::Uuid::try_parse(guid).is_ok(), "{name}");
    let blob = app
        .storage
        .get_blob(&results, &name)
        .await
        .unwrap()
        .unwrap();
    let request: Value = serde_json::from_slice(&blob).unwrap();
    let timer = &request["request"]["Data"]["timer"];
    assert_eq!(timer["Schedule"], json!({"AdjustForDST": true}));
    assert_eq!(timer["IsPastDue"], json!(false));
    assert!(timer["ScheduleStatus"]["Next"].is_string());
    assert_eq!(
        request["request"]["Metadata"]["sys"]["RandGuid"],
        json!(guid)
    );
    app.stop().await;
}
