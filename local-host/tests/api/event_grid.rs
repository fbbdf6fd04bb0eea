//! `/runtime/webhooks/eventgrid`: the subscription handshake and deliveries, as the Event Grid
//! extension answers them (azure-sdk-for-net `Microsoft.Azure.WebJobs.Extensions.EventGrid`
//! `TriggerBinding/HttpRequestProcessor.cs`, `EventGridExtensionConfigProvider.cs`).

use crate::helpers::{TestApp, spawn_app};
use serde_json::{Value, json};

const MASTER_KEY: &str = "fixture-master-key";

async fn post(app: &TestApp, query: &str, kind: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(&format!("/runtime/webhooks/eventgrid?{query}")))
        .json(body);
    if let Some(kind) = kind {
        request = request.header("aeg-event-type", kind);
    }
    request.send().await.unwrap()
}

fn example() -> Value {
    serde_json::from_str(local_host::cli::EVENT_GRID_EXAMPLE).unwrap()
}

/// Every invocation the `grid` fixture recorded, once `n` are there.
async fn recorded(app: &TestApp, n: usize) -> Vec<Value> {
    app.recorded("grid-", n).await
}

#[tokio::test]
async fn the_subscription_handshake_echoes_the_validation_code() {
    let app = spawn_app("app").await;
    let validation = json!([{
        "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
        "topic": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a",
        "subject": "",
        "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2026-12-01T12:00:00Z",
        "metadataVersion": "1",
        "dataVersion": "1"
    }]);
    let query = format!("functionName=grid&code={MASTER_KEY}");
    let answer = post(&app, &query, Some("SubscriptionValidation"), &validation).await;
    assert_eq!(answer.status(), 200);
    let body: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})
    );
    // CloudEvents' handshake is an OPTIONS request.
    let options = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            app.url(&format!("/runtime/webhooks/eventgrid?{query}")),
        )
        .header("WebHook-Request-Origin", "eventgrid.azure.net")
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), 200);
    assert_eq!(
        options.headers()["webhook-allowed-origin"],
        "eventgrid.azure.net"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_delivery_runs_the_function_once_per_event_with_the_event_as_an_object() {
    let app = spawn_app("app").await;
    let mut second = example();
    second["id"] = json!("second-event");
    let answer = post(
        &app,
        &format!("functionName=grid&code={MASTER_KEY}"),
        Some("Notification"),
        &json!([example(), second]),
    )
    .await;
    assert_eq!(answer.status(), 202);
    let requests = recorded(&app, 2).await;
    let mut ids: Vec<&str> = requests
        .iter()
        .map(|r| r["Data"]["event"]["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        ["4c2359fe-001e-0044-4a1b-5c7a0e06a2c1", "second-event"]
    );
    let request = &requests[0];
    assert_eq!(
        request["Data"]["event"]["eventType"],
        "Microsoft.Storage.BlobCreated"
    );
    assert_eq!(
        request["Metadata"]["data"]["url"],
        "http://127.0.0.1:10000/devstoreaccount1/uploads/houses.csv"
    );
    app.stop().await;
}

#[tokio::test]
async fn one_failed_event_fails_the_delivery_so_event_grid_sends_it_again() {
    let app = spawn_app("app").await;
    let mut failing = example();
    failing["data"]["fail"] = json!(true);
    let answer = post(
        &app,
        &format!("functionName=grid&code={MASTER_KEY}"),
        Some("Notification"),
        &json!([example(), failing]),
    )
    .await;
    assert_eq!(answer.status(), 500);
    app.stop().await;
}

#[tokio::test]
async fn the_webhook_needs_the_key_a_known_function_and_an_event_type() {
    let app = spawn_app("app").await;
    let events = json!([example()]);
    assert_eq!(
        post(&app, "functionName=grid", Some("Notification"), &events)
            .await
            .status(),
        401
    );
    let unknown = post(
        &app,
        &format!("functionName=Grid&code={MASTER_KEY}"),
        Some("Notification"),
        &events,
    )
    .await;
    assert_eq!(unknown.status(), 404, "the name is matched with case");
    assert_eq!(
        unknown.text().await.unwrap(),
        "cannot find function: 'Grid'"
    );
    let untyped = post(
        &app,
        &format!("functionName=grid&code={MASTER_KEY}"),
        None,
        &events,
    )
    .await;
    assert_eq!(untyped.status(), 400);
    let unsubscribe = post(
        &app,
        &format!("functionName=grid&code={MASTER_KEY}"),
        Some("Unsubscribe"),
        &events,
    )
    .await;
    assert_eq!(unsubscribe.status(), 202);
    app.stop().await;
}

#[tokio::test]
async fn the_admin_api_runs_an_event_grid_function_with_the_example_event() {
    let app = spawn_app("app").await;
    let status = app
        .client
        .post(app.url("/admin/functions/grid"))
        .header("x-functions-key", MASTER_KEY)
        .json(&json!({ "input": local_host::cli::EVENT_GRID_EXAMPLE }))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);
    let requests = recorded(&app, 1).await;
    assert_eq!(requests[0]["Data"]["event"], example());
    app.stop().await;
}

/// Event Grid's side (learn.microsoft.com/azure/event-grid/delivery-and-retry): an attempt
/// that gets no answer within the wait has failed although the function runs on, and is
/// tried again on the retry schedule; after the last attempt the event is dead-lettered as
/// an array of one with the reason fields, under `<SUBSCRIPTION>/<yyyy>/<M>/<d>/<H>/`.
#[tokio::test]
async fn a_blob_event_whose_function_outlasts_the_wait_is_delivered_again_then_dead_lettered() {
    let watched = format!(
        "watched-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let dead = format!("dead-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let app = crate::helpers::spawn_with("app", |o| {
        o.setting("LOCALHOST_BLOB_EVENTS", format!("grid={watched}"))
            .setting("LOCALHOST_EVENT_GRID_WAIT", "0.5")
            .setting("LOCALHOST_EVENT_GRID_TIME_SCALE", "0.01")
            .setting("LOCALHOST_EVENT_GRID_MAX_ATTEMPTS", "3")
            .setting("LOCALHOST_EVENT_GRID_DEAD_LETTER", &dead)
    })
    .await;
    app.storage.ensure_container(&watched).await.unwrap();
    for name in ["quick", "slow"] {
        app.storage
            .put_blob(&watched, name, b"x".to_vec(), "text/plain")
            .await
            .unwrap();
    }
    // Every attempt at `slow` runs to its end: three runs, and one of `quick`.
    let runs = recorded(&app, 4).await;
    let subjects = |suffix: &str| {
        runs.iter()
            .filter(|r| {
                r["Data"]["event"]["subject"]
                    .as_str()
                    .is_some_and(|s| s.ends_with(suffix))
            })
            .count()
    };
    assert_eq!((subjects("/slow"), subjects("/quick")), (3, 1));
    let letters = app
        .eventually(
            "the dead letter",
            std::time::Duration::from_secs(10),
            || {
                let (storage, dead) = (app.storage.clone(), dead.clone());
                async move {
                    let names = storage.list_blobs(&dead, None).await.ok()?;
                    (!names.is_empty()).then_some(names)
                }
            },
        )
        .await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let now = time::OffsetDateTime::now_utc();
    let prefix = format!(
        "GRID/{}/{}/{}/",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    assert!(letters[0].starts_with(&prefix), "{}", letters[0]);
    let letter: Value = serde_json::from_slice(
        &app.storage
            .get_blob(&dead, &letters[0])
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let event = &letter[0];
    assert!(event["subject"].as_str().unwrap().ends_with("/slow"));
    assert_eq!(event["deadLetterReason"], "MaxDeliveryAttemptsExceeded");
    assert_eq!(event["deliveryAttempts"], 3);
    assert_eq!(event["lastDeliveryOutcome"], "TimedOut");
    assert!(event["publishTime"].is_string() && event["lastDeliveryAttemptTime"].is_string());
    // Ended either way, both versions have receipts: a restart delivers neither again.
    app.eventually("both receipts", std::time::Duration::from_secs(10), || {
        let (storage, watched) = (app.storage.clone(), watched.clone());
        async move {
            let receipts = storage
                .list_blobs(
                    "azure-webjobs-hosts",
                    Some("blobreceipts/local-host/Host.Functions.grid/"),
                )
                .await
                .ok()?;
            ["quick", "slow"]
                .iter()
                .all(|name| {
                    receipts
                        .iter()
                        .any(|r| r.ends_with(&format!("/{watched}/{name}")))
                })
                .then_some(())
        }
    })
    .await;
    app.storage.delete_container(&watched).await.unwrap();
    app.storage.delete_container(&dead).await.unwrap();
    app.stop().await;
}
