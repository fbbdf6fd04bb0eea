//! `POST /admin/functions/{name}` runs a non-HTTP function now, with the trigger value the real
//! trigger would make of the input (azure-functions-host
//! `src/WebJobs.Script.WebHost/Controllers/FunctionsController.cs`; the queue message from
//! azure-sdk-for-net `Storage.Queues/src/Triggers/StringToStorageQueueMessageConverter.cs`;
//! the timer from azure-webjobs-sdk-extensions `Timers/Bindings/TimerTriggerBinding.cs`).

use crate::helpers::{TestApp, spawn_app};
use serde_json::{Value, json};

const MASTER_KEY: &str = "fixture-master-key";

async fn admin(app: &TestApp, function: &str, key: Option<&str>, body: &str) -> u16 {
    let mut request = app
        .client
        .post(app.url(&format!("/admin/functions/{function}")))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header("x-functions-key", key);
    }
    request.send().await.unwrap().status().as_u16()
}

/// The one invocation a recording fixture function wrote under `prefix`.
async fn recorded(app: &TestApp, prefix: &str) -> Value {
    app.recorded(prefix, 1).await.remove(0)
}

#[tokio::test]
async fn the_admin_api_needs_the_master_key_a_known_function_and_a_json_body() {
    let app = spawn_app("app").await;
    let body = r#"{"input": ""}"#;
    assert_eq!(admin(&app, "tick", None, body).await, 401);
    assert_eq!(
        admin(&app, "tick", Some("fixture-function-key"), body).await,
        401
    );
    assert_eq!(
        admin(&app, "no-such-function", Some(MASTER_KEY), body).await,
        404
    );
    assert_eq!(admin(&app, "tick", Some(MASTER_KEY), "not json").await, 400);
    // The key also works as `code`, and the name matches in any case.
    let status = app
        .client
        .post(app.url(&format!("/admin/functions/TICK?code={MASTER_KEY}")))
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);
    app.stop().await;
}

#[tokio::test]
async fn a_queue_function_gets_the_input_as_a_message_never_dequeued_with_no_id() {
    let app = spawn_app("app").await;
    let input = local_host::cli::QUEUE_EXAMPLE;
    let body = json!({ "input": input }).to_string();
    assert_eq!(admin(&app, "record", Some(MASTER_KEY), &body).await, 202);
    let request = recorded(&app, "record-").await;
    // Text as given (no base64 decoding, whatever messageEncoding says), serialised once
    // more as every queue trigger value without a dataType is (see queues.rs).
    assert_eq!(
        request["Data"]["message"],
        json!(serde_json::to_string(input).unwrap())
    );
    let metadata = &request["Metadata"];
    assert_eq!(metadata["DequeueCount"], json!("0"));
    assert_eq!(metadata["hello"], json!("\"from local-host invoke\""));
    assert!(metadata.get("Id").is_none(), "{metadata}");
    assert!(metadata.get("PopReceipt").is_none(), "{metadata}");
    assert_eq!(
        metadata["ExpirationTime"],
        json!("9999-12-31T23:59:59.9999999+00:00")
    );
    assert!(metadata["InsertionTime"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn a_timer_function_runs_now_with_a_fresh_timer_info_whatever_the_input() {
    // TICK_SCHEDULE is once a year (the fixture's settings): only the admin call runs it.
    let app = spawn_app("app").await;
    let body = json!({ "input": local_host::cli::TIMER_EXAMPLE }).to_string();
    assert_eq!(admin(&app, "tick", Some(MASTER_KEY), &body).await, 202);
    let timer = recorded(&app, "tick-").await["Data"]["timer"].clone();
    assert_eq!(timer["IsPastDue"], json!(false));
    assert_eq!(timer["Schedule"], json!({"AdjustForDST": true}));
    assert_eq!(
        timer["ScheduleStatus"]["Last"],
        json!("0001-01-01T00:00:00")
    );
    let next = timer["ScheduleStatus"]["Next"].as_str().unwrap();
    assert!(next.contains("-01-01T00:00:00"), "{timer}");
    app.stop().await;
}

#[tokio::test]
async fn an_http_function_is_accepted_and_not_run_as_on_the_host() {
    let app = spawn_app("app").await;
    assert_eq!(
        admin(&app, "echo", Some(MASTER_KEY), r#"{"input": "x"}"#).await,
        202
    );
    app.stop().await;
}

/// `local-host invoke`, the real binary, against a running host (awaited, so the host in
/// this runtime can answer it).
async fn invoke_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_local-host"))
        .arg("invoke")
        .args(args)
        .arg("--app-dir")
        .arg(app.dir())
        .args(["--url", app.host.url()])
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn local_host_invoke_sends_the_example_for_the_trigger_with_the_settings_master_key() {
    let app = spawn_app("app").await;
    let output = invoke_cli(&app, &["record"]).await;
    assert!(output.status.success(), "{output:?}");
    let request = recorded(&app, "record-").await;
    assert_eq!(
        request["Data"]["message"],
        json!(serde_json::to_string(local_host::cli::QUEUE_EXAMPLE).unwrap())
    );
    let output = invoke_cli(&app, &["record", "--input", "by hand"]).await;
    assert!(output.status.success(), "{output:?}");
    app.stop().await;
}

#[tokio::test]
async fn local_host_invoke_fails_with_one_sentence() {
    let app = spawn_app("app").await;
    for (args, expected) in [
        (&["tick", "--key", "wrong"][..], "refused the master key"),
        (&["nope", "--input", "x"][..], "has no function `nope`"),
        (
            &["echo"][..],
            "has a httpTrigger trigger, which has no example input",
        ),
    ] {
        let output = invoke_cli(&app, args).await;
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    app.stop().await;
}
