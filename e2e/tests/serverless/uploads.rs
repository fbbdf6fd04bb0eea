//! A CSV dropped into `uploads/` is queued by `queue-upload`, through the local host's Event
//! Grid webhook with the event shape Azure Storage sends (`local-host/events/`), and scored
//! by `score-upload` from the `score-uploads` queue.

use serde_json::{Value, json};
use storage::Storage;

use crate::helpers::{KEY, Stack, houses, start};

const UPLOADS: &str = "uploads";

/// `results/uploads/<stem>.csv` for `uploads/<stem>.csv` (the names here all end in `.csv`).
fn result_of(name: &str) -> String {
    format!("uploads/{name}")
}

/// `results/uploads/<stem>.error.json`.
fn error_of(name: &str) -> String {
    format!("uploads/{}.error.json", name.trim_end_matches(".csv"))
}

/// The `BlobCreated` event of `uploads/<name>`: the example event, pointed at `name`.
fn created(name: &str) -> Value {
    let mut event: Value = serde_json::from_str(local_host::cli::EVENT_GRID_EXAMPLE).unwrap();
    event["subject"] = json!(format!(
        "/blobServices/default/containers/uploads/blobs/{name}"
    ));
    event["data"]["url"] = json!(format!(
        "http://127.0.0.1:10000/devstoreaccount1/uploads/{name}"
    ));
    event["id"] = json!(uuid::Uuid::new_v4().to_string());
    event
}

/// Tells `queue-upload` that `uploads/<name>` was written, as Event Grid would; it answers
/// 202 once the file is queued, long before it is scored.
async fn announce(stack: &Stack, name: &str) {
    let mut event = created(name);
    // The version written, as Azure Storage names it in the event.
    let written = stack
        .storage
        .blob_properties(UPLOADS, name)
        .await
        .unwrap()
        .expect("the upload is there");
    event["data"]["eTag"] = json!(written.etag);
    let status = stack.deliver_events("queue-upload", &json!([event])).await;
    assert_eq!(status, 202, "delivering the event of {name}");
}

/// Messages in `score-uploads`, visible or not.
async fn queued(stack: &Stack) -> u64 {
    stack
        .storage
        .queue_length(house_price::uploads::QUEUE)
        .await
        .unwrap_or(0)
}

/// Announces `name` and waits until `score-upload` has finished with it: the queue is back
/// to the length it had before (a message is deleted when its run succeeds; a message a
/// stopped host still leases counts in both).
async fn announce_and_settle(stack: &Stack, name: &str) {
    let before = queued(stack).await;
    announce(stack, name).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while queued(stack).await > before {
        assert!(
            std::time::Instant::now() < deadline,
            "score-uploads still holds the message of {name}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The scoring runs the lock of `uploads/<name>` counted for its current version.
async fn runs(storage: &Storage, name: &str) -> Option<u64> {
    let lock = storage
        .blob_properties(
            house_price::uploads::LOCKS_CONTAINER,
            &house_price::uploads::lock_name(name),
        )
        .await
        .unwrap()?;
    lock.metadata.get("runs").and_then(|r| r.parse().ok())
}

async fn upload(storage: &Storage, name: &str, text: &str) {
    storage.ensure_container(UPLOADS).await.unwrap();
    storage
        .put_blob(UPLOADS, name, text.as_bytes().to_vec(), "text/csv")
        .await
        .unwrap();
}

async fn result(storage: &Storage, name: &str) -> Option<String> {
    let bytes = storage.get_blob("results", name).await.unwrap()?;
    Some(String::from_utf8(bytes).unwrap())
}

/// What the Functions app's `predict` answers for the same CSV.
async fn predicted(stack: &Stack, csv: &str) -> String {
    let answer = stack
        .http
        .post(stack.url("/api/predict"))
        .header("x-functions-key", KEY)
        .header("Content-Type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    answer.text().await.unwrap()
}

#[tokio::test]
async fn a_dropped_csv_gets_its_result_equal_to_predict_once_per_version() {
    let stack = start().await;
    let name = format!("drop-{}.csv", uuid::Uuid::new_v4().simple());
    let csv = houses(50);
    upload(&stack.storage, &name, &csv).await;
    announce_and_settle(&stack, &name).await;
    let scored = result(&stack.storage, &result_of(&name))
        .await
        .expect("a result");
    assert_eq!(scored, predicted(&stack, &csv).await);
    assert_eq!(scored.lines().count(), 51);
    assert!(result(&stack.storage, &error_of(&name)).await.is_none());

    // The same event again: the result of this version stands, unwritten.
    let before = stack
        .storage
        .blob_properties("results", &result_of(&name))
        .await
        .unwrap()
        .unwrap();
    announce_and_settle(&stack, &name).await;
    let after = stack
        .storage
        .blob_properties("results", &result_of(&name))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.etag, after.etag, "scored twice");
    assert_eq!(runs(&stack.storage, &name).await, Some(1));

    // A new version of the file is scored again.
    let replaced = houses(7);
    upload(&stack.storage, &name, &replaced).await;
    announce_and_settle(&stack, &name).await;
    let rescored = result(&stack.storage, &result_of(&name)).await.unwrap();
    assert_eq!(rescored, predicted(&stack, &replaced).await);
    stack.host.stop().await;
}

#[tokio::test]
async fn a_csv_that_cannot_be_scored_gets_an_error_file_naming_the_line_and_column() {
    let stack = start().await;
    let name = format!("bad-{}.csv", uuid::Uuid::new_v4().simple());
    let csv = houses(10).replace("296,15.3,396.9,7", "296,15.3,396.9,seven");
    upload(&stack.storage, &name, &csv).await;
    announce_and_settle(&stack, &name).await;
    let error: Value = serde_json::from_str(
        &result(&stack.storage, &error_of(&name))
            .await
            .expect("an error file"),
    )
    .unwrap();
    assert_eq!(error["error"]["code"], "invalid_value", "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 5, column \"LSTAT\""), "{message}");
    assert!(
        result(&stack.storage, &result_of(&name)).await.is_none(),
        "a partial result"
    );
    // An event about another container, or a deleted blob, is not for this function.
    let mut elsewhere = created(&name);
    elsewhere["subject"] = json!("/blobServices/default/containers/results/blobs/x.csv");
    assert_eq!(
        stack
            .deliver_events("queue-upload", &json!([elsewhere]))
            .await,
        202
    );
    stack.host.stop().await;
}

/// The handler's peak resident memory (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test]
async fn a_100_mb_file_is_scored_in_bounded_memory() {
    const TARGET: usize = 100 << 20;
    let stack = start().await;
    let name = format!("big-{}.csv", uuid::Uuid::new_v4().simple());
    // About 2 million rows, written in 8 MiB blocks so the test holds little of it either.
    stack.storage.ensure_container(UPLOADS).await.unwrap();
    let mut writer = stack.storage.block_writer(UPLOADS, &name).unwrap();
    let header = "CHAS,RM,TAX,PTRATIO,B,LSTAT\n";
    let mut block = String::from(header);
    let (mut written, mut rows) = (0usize, 0u64);
    while written + block.len() < TARGET {
        let i = rows as usize;
        block.push_str(&format!(
            "{},{}.{},296,15.3,396.9,{}\n",
            i % 2,
            5 + i % 3,
            i % 10,
            4 + i % 20
        ));
        rows += 1;
        if block.len() >= 8 << 20 {
            written += block.len();
            writer
                .stage(std::mem::take(&mut block).into_bytes().into())
                .await
                .unwrap();
        }
    }
    written += block.len();
    writer.stage(block.into_bytes().into()).await.unwrap();
    writer.commit("text/csv", Default::default()).await.unwrap();

    let pid = stack.host.handler_pid().expect("the handler runs");
    let before = peak_rss(pid);
    let started = std::time::Instant::now();
    announce_and_settle(&stack, &name).await;
    let took = started.elapsed();
    let peak = peak_rss(pid);
    let result = stack
        .storage
        .blob_properties("results", &result_of(&name))
        .await
        .unwrap()
        .expect("a result");
    assert!(
        result.size > written as u64,
        "{} bytes of result",
        result.size
    );
    eprintln!(
        "{} MB, {rows} rows: {:.1} s ({:.0} rows/s), handler peak RSS {} MB (before {} MB)",
        written >> 20,
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64(),
        peak >> 20,
        before >> 20
    );
    assert!(peak < 128 << 20, "peak RSS {} MB", peak >> 20);
    stack.storage.delete_blob(UPLOADS, &name).await.unwrap();
    stack
        .storage
        .delete_blob("results", &result_of(&name))
        .await
        .unwrap();
    stack.host.stop().await;
}

/// Waits up to 30 s for `results/<name>` to exist.
async fn wait_for(storage: &Storage, name: &str) -> storage::BlobProperties {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(found) = storage.blob_properties("results", name).await.unwrap() {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "no results/{name}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Receipts as the real host's polling blob trigger keeps them (azure-sdk-for-net
/// `Microsoft.Azure.WebJobs.Extensions.Storage.Blobs/src/Listeners/BlobReceiptManager.cs`,
/// `BlobTriggerExecutor.cs`): one per blob version, so a restart skips what it delivered.
#[tokio::test]
async fn the_local_host_delivers_each_new_blob_once_across_restarts() {
    // Azurite raises no Event Grid events: the local host watches `uploads` instead.
    let settings = [("LOCALHOST_BLOB_EVENTS", "queue-upload=uploads")];
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (first, second) = (format!("watch-{run}-a.csv"), format!("watch-{run}-b.csv"));
    let stack = crate::helpers::start_with_settings(&settings).await;
    upload(&stack.storage, &first, &houses(3)).await;
    let scored = wait_for(&stack.storage, &result_of(&first)).await;
    stack.host.stop().await;

    // Written while no host runs: delivered after the restart, and the first is not again.
    let storage = stack.storage.clone();
    upload(&storage, &second, &houses(4)).await;
    let stack = crate::helpers::start_with_settings(&settings).await;
    let rescored = wait_for(&stack.storage, &result_of(&second)).await;
    assert_eq!(
        result(&stack.storage, &result_of(&second))
            .await
            .unwrap()
            .lines()
            .count(),
        5
    );
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let again = stack
        .storage
        .blob_properties("results", &result_of(&first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.etag, scored.etag, "the first file was scored again");
    assert_ne!(rescored.etag, scored.etag);
    let receipts = stack
        .storage
        .list_blobs(
            "azure-webjobs-hosts",
            Some("blobreceipts/local-host/Host.Functions.queue-upload/"),
        )
        .await
        .unwrap();
    for name in [&first, &second] {
        assert!(
            receipts
                .iter()
                .any(|r| r.ends_with(&format!("/uploads/{name}"))),
            "no receipt for {name}: {receipts:?}"
        );
    }
    stack.host.stop().await;
}

/// Event Grid waits 30 s for the webhook's answer, then delivers again while the first run
/// goes on (learn.microsoft.com/azure/event-grid/delivery-and-retry; the host answers only
/// when the function has finished: azure-sdk-for-net
/// `Microsoft.Azure.WebJobs.Extensions.EventGrid/src/TriggerBinding/HttpRequestProcessor.cs`).
/// With the wait cut to a fifth of a second and the retries to a hundredth, a file that
/// takes longer than that to score must still be answered in time, scored once (duplicate
/// deliveries too), and never dead-lettered.
#[tokio::test]
async fn a_file_whose_scoring_outlasts_event_grids_wait_is_scored_once() {
    const WAIT: &str = "0.2";
    let dead = format!("dead-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let settings = [
        ("LOCALHOST_BLOB_EVENTS", "queue-upload=uploads"),
        ("LOCALHOST_EVENT_GRID_WAIT", WAIT),
        ("LOCALHOST_EVENT_GRID_TIME_SCALE", "0.01"),
        ("LOCALHOST_EVENT_GRID_MAX_ATTEMPTS", "3"),
        ("LOCALHOST_EVENT_GRID_DEAD_LETTER", dead.as_str()),
    ];
    let stack = crate::helpers::start_with_settings(&settings).await;
    let name = format!("slow-{}.csv", uuid::Uuid::new_v4().simple());
    // Several times the wait to write and score, on a fast machine too.
    let csv = houses(300_000);
    let started = std::time::Instant::now();
    upload(&stack.storage, &name, &csv).await;
    // Two more deliveries of the same event at once, as Event Grid may make: three messages
    // for one version, run side by side by the queue listener.
    let (a, b) = tokio::join!(announce(&stack, &name), announce(&stack, &name));
    let ((), ()) = (a, b);
    let scored = wait_for(&stack.storage, &result_of(&name)).await;
    let took = started.elapsed();
    eprintln!(
        "{} MB scored in {:.1} s",
        csv.len() >> 20,
        took.as_secs_f64()
    );
    // Long enough for every retry the wait would have caused to have been made.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(
        took.as_secs_f64() > WAIT.parse::<f64>().unwrap(),
        "scoring took {took:?}: too quick to outlast the wait"
    );
    assert_eq!(runs(&stack.storage, &name).await, Some(1), "scoring runs");
    let again = stack
        .storage
        .blob_properties("results", &result_of(&name))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.etag, scored.etag, "the result was written twice");
    let letters = stack.storage.list_blobs(&dead, None).await;
    assert!(
        letters.as_ref().map_or(true, Vec::is_empty),
        "dead-lettered: {letters:?}"
    );
    stack.storage.delete_blob(UPLOADS, &name).await.unwrap();
    stack.host.stop().await;
}
