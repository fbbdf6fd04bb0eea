use crate::helpers::spawn_app;
use serde_json::{Value, json};
use std::time::Duration;
use storage::{MessageEncoding, decode_message, encode_message};

#[tokio::test]
async fn an_http_queue_output_array_is_one_base64_message_per_item_objects_indented() {
    // ReadAsEnumerable + BindAsyncCollectorAsync<byte[]> (FunctionBinding.cs): a JArray item's
    // ToString() is its text, or indented JSON for an object.
    let app = spawn_app("app").await;
    let response = app.enqueue(json!(["first", {"n": 2}])).await;
    assert_eq!(response.status(), 202);
    let peeked = app.storage.peek_messages(&app.names.out, 32).await.unwrap();
    let wire: Vec<&str> = peeked.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        wire,
        vec![
            encode_message("first", MessageEncoding::Base64),
            encode_message("{\n  \"n\": 2\n}", MessageEncoding::Base64)
        ]
    );
    app.stop().await;
}

/// The blob `name` of the results container, once the `process` fixture has written it.
async fn result_blob(app: &crate::helpers::TestApp, name: &str) -> Vec<u8> {
    let results = app.names.results.clone();
    app.eventually("the result blob", Duration::from_secs(20), || {
        let (storage, results, name) = (app.storage.clone(), results.clone(), name.to_owned());
        async move { storage.get_blob(&results, &name).await.unwrap() }
    })
    .await
}

#[tokio::test]
async fn a_queue_trigger_writes_the_blob_its_binding_expressions_name_and_deletes_the_message() {
    let app = spawn_app("app").await;
    let jobs = &app.names.jobs;
    app.storage.ensure_queue(jobs).await.unwrap();
    let text = r#"{"jobId":"j-1","size":3}"#;
    let sent = app
        .storage
        .send_message(jobs, &encode_message(text, MessageEncoding::Base64))
        .await
        .unwrap();
    let blob = result_blob(&app, &format!("j-1/{}.json", sent.id)).await;
    let result: Value = serde_json::from_slice(&blob).unwrap();
    assert_eq!(result["text"], json!(text));
    let request = &result["request"];
    // The host's double encoding: a JSON string holding the message text as a JSON string.
    assert_eq!(
        request["Data"]["job"],
        json!(serde_json::to_string(text).unwrap())
    );
    let metadata = &request["Metadata"];
    assert_eq!(metadata["DequeueCount"], json!("1"));
    assert_eq!(metadata["Id"], json!(format!("\"{}\"", sent.id)));
    assert_eq!(metadata["jobId"], json!("\"j-1\""));
    // A JSON property arrives as its .NET string, serialised once more (Utility.ApplyBindingData).
    assert_eq!(metadata["size"], json!("\"3\""));
    assert!(metadata["PopReceipt"].is_string());
    assert!(
        metadata["InsertionTime"]
            .as_str()
            .unwrap()
            .ends_with("+00:00")
    );
    assert_eq!(metadata["sys"]["MethodName"], json!("process"));
    assert!(metadata.get("QueueTrigger").is_none());

    app.eventually("the message to be deleted", Duration::from_secs(10), || {
        let storage = app.storage.clone();
        let jobs = jobs.clone();
        async move { (storage.queue_length(&jobs).await.unwrap() == 0).then_some(()) }
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_failing_message_is_retried_then_moved_to_poison_with_its_body_intact() {
    let app = spawn_app("app").await;
    let jobs = &app.names.jobs;
    let poison = format!("{jobs}-poison");
    app.storage.ensure_queue(jobs).await.unwrap();
    let wire = encode_message(r#"{"jobId":"p-1","fail":true}"#, MessageEncoding::Base64);
    app.storage.send_message(jobs, &wire).await.unwrap();
    let poisoned = app
        .eventually("the poison message", Duration::from_secs(30), || {
            let storage = app.storage.clone();
            let poison = poison.clone();
            async move {
                let peeked = storage.peek_messages(&poison, 32).await.ok()?;
                (!peeked.is_empty()).then_some(peeked)
            }
        })
        .await;
    assert_eq!(poisoned.len(), 1);
    assert_eq!(poisoned[0].text, wire);
    assert_eq!(app.storage.queue_length(jobs).await.unwrap(), 0);
    // Every attempt failed, so no result was written.
    assert!(
        app.storage
            .list_blobs(&app.names.results, None)
            .await
            .map(|b| b.is_empty())
            .unwrap_or(true)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_message_that_is_not_base64_goes_straight_to_poison() {
    let app = spawn_app("app").await;
    let jobs = &app.names.jobs;
    let poison = format!("{jobs}-poison");
    app.storage.ensure_queue(jobs).await.unwrap();
    app.storage
        .send_message(jobs, "plain text, not base64!")
        .await
        .unwrap();
    let poisoned = app
        .eventually("the poison message", Duration::from_secs(20), || {
            let storage = app.storage.clone();
            let poison = poison.clone();
            async move {
                let peeked = storage.peek_messages(&poison, 32).await.ok()?;
                (!peeked.is_empty()).then_some(peeked)
            }
        })
        .await;
    assert_eq!(poisoned[0].text, "plain text, not base64!");
    assert_eq!(poisoned[0].dequeue_count, 0);
    assert_eq!(
        decode_message(&poisoned[0].text, MessageEncoding::None).unwrap(),
        "plain text, not base64!"
    );
    app.stop().await;
}

// GetBindingValue (HttpScriptInvocationResultExtensions.cs), ReadAsEnumerable (FunctionBinding.cs):
// a JSON-looking string is re-serialised indented; base64 is decoded and enqueued unchanged.
#[tokio::test]
async fn a_json_string_output_is_reindented_and_base64_bytes_are_enqueued_exactly() {
    let app = spawn_app("app").await;
    let compact = r#"{"b":1,"a":[2,3]}"#;
    for messages in [
        json!(compact),
        json!(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            compact
        )),
    ] {
        let response = app.enqueue(messages).await;
        assert_eq!(response.status(), 202);
    }
    let peeked = app.storage.peek_messages(&app.names.out, 32).await.unwrap();
    let texts: Vec<String> = peeked
        .iter()
        .map(|m| decode_message(&m.text, MessageEncoding::Base64).unwrap())
        .collect();
    assert_eq!(
        texts,
        vec![
            "{\n  \"b\": 1,\n  \"a\": [\n    2,\n    3\n  ]\n}".to_string(),
            compact.to_string()
        ]
    );
    app.stop().await;
}

// Azure.Storage.Queues Constants.cs: 64 KiB of encoded text at most; over it the invocation fails
// and nothing is sent.
#[tokio::test]
async fn a_queue_output_over_64_kib_once_encoded_fails_the_invocation() {
    let app = spawn_app("app").await;
    let encode = |n: usize| {
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "x".repeat(n))
    };
    // 49,152 bytes are exactly 65,536 once base64-encoded; one more byte is too many.
    let response = app.enqueue(json!(encode(49_153))).await;
    assert_eq!(response.status(), 500);
    let response = app.enqueue(json!(encode(49_152))).await;
    assert_eq!(response.status(), 202);
    let peeked = app.storage.peek_messages(&app.names.out, 32).await.unwrap();
    assert_eq!(peeked.len(), 1);
    assert_eq!(peeked[0].text.len(), 65_536);
    app.stop().await;
}

/// The storage extension renews a running message's lease at half time (azure-sdk-for-net
/// `Microsoft.Azure.WebJobs.Extensions.Storage.Common/src/Shared/Queues/QueueListener.cs`),
/// so a run longer than the lease keeps its message: it is not delivered a second time.
#[tokio::test]
async fn a_run_longer_than_the_lease_keeps_its_message_and_runs_once() {
    let app =
        crate::helpers::spawn_with("app", |o| o.setting("LOCALHOST_MESSAGE_LEASE", "2")).await;
    let jobs = &app.names.jobs;
    app.storage.ensure_queue(jobs).await.unwrap();
    let text = r#"{"jobId":"slow","sleepMs":5000}"#;
    let sent = app
        .storage
        .send_message(jobs, &encode_message(text, MessageEncoding::Base64))
        .await
        .unwrap();
    let results = app.names.results.clone();
    let blob_name = format!("slow/{}.json", sent.id);
    let blob = result_blob(&app, &blob_name).await;
    // Long enough for a second run, had the message reappeared, to have written too.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let last = app
        .storage
        .get_blob(&results, &blob_name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last, blob, "the message was run again");
    let result: Value = serde_json::from_slice(&blob).unwrap();
    assert_eq!(result["request"]["Metadata"]["DequeueCount"], json!("1"));
    assert!(
        app.storage
            .peek_messages(jobs, 32)
            .await
            .unwrap()
            .is_empty(),
        "the message is still queued"
    );
    assert_eq!(app.storage.queue_length(jobs).await.unwrap(), 0);
    app.stop().await;
}
