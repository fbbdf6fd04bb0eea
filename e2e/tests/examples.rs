//! The four examples in `examples/`, each built and staged as a user builds and stages their
//! own app (`<binary> manifest --out DIR` beside its host.json), run end to end under the
//! local host against Azurite.

use local_host::{Host, HostOptions, RunningHost};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use storage::{MessageEncoding, Storage, StorageSettings, decode_message, encode_message};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn azurite() -> String {
    std::env::var("AZURITE_CONNECTION_STRING").unwrap_or_else(|_| {
        panic!(
            "AZURITE_CONNECTION_STRING is not set: these tests need Azurite. Run ./scripts/test.sh, \
             or eval \"$(scripts/azurite.sh start)\" in this shell first"
        )
    })
}

/// The workspace's binaries, the examples' among them, built once per test process.
fn binaries() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| xtask::build_binaries(&repo(), false).unwrap())
}

fn storage() -> Storage {
    let settings =
        StorageSettings::parse_connection_string("AzureWebJobsStorage", &azurite()).unwrap();
    Storage::new(&settings).unwrap()
}

/// An example's app running under the local host; its app directory goes with it.
struct Example {
    host: RunningHost,
    dir: PathBuf,
}

impl Example {
    async fn start(name: &str, settings: &[(&str, &str)]) -> Example {
        let dir = std::env::temp_dir().join(format!("example-{name}-{}", uuid::Uuid::new_v4()));
        let source = repo().join("examples").join(name);
        xtask::package::stage_functionapp(&source, &binaries().join(name), &dir).unwrap();
        let mut options = HostOptions::new(dir.clone()).setting("AzureWebJobsStorage", azurite());
        for (key, value) in settings {
            options = options.setting(*key, *value);
        }
        let host = Host::start(options).await.unwrap();
        Example { host, dir }
    }

    async fn stop(self) {
        self.host.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `check` every 200 ms until it answers, or panics after `timeout` naming `what`.
async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(started.elapsed() < timeout, "no {what} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn http_binary_answers_an_image_that_is_not_text() {
    let example = Example::start("http-binary", &[]).await;
    let http = reqwest::Client::new();
    let get = |name: &str| {
        http.get(format!("{}/api/identicon/{name}", example.host.url()))
            .send()
    };
    let response = get("alice").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/bmp");
    let alice = response.bytes().await.unwrap();
    assert_eq!(&alice[..2], b"BM");
    assert_eq!(alice.len(), 54 + 152 * 50);
    assert!(
        std::str::from_utf8(&alice).is_err(),
        "the image must hold bytes that are not UTF-8"
    );
    assert_eq!(get("alice").await.unwrap().bytes().await.unwrap(), alice);
    assert_ne!(get("bob").await.unwrap().bytes().await.unwrap(), alice);
    // The function's bad input is the caller's 400, with the runtime's plain error body.
    let response = get(&"x".repeat(65)).await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.text().await.unwrap(),
        "name the identicon with 1 to 64 characters"
    );
    example.stop().await;
}

#[tokio::test]
async fn queue_to_blob_writes_a_receipt_and_keeps_a_bad_order_in_poison() {
    let storage = storage();
    for queue in ["orders", "orders-poison"] {
        storage.ensure_queue(queue).await.unwrap();
    }
    let example = Example::start("queue-to-blob", &[]).await;
    let id = format!("o-{}", uuid::Uuid::new_v4());
    let order = format!(r#"{{"orderId":"{id}","item":"book","quantity":2}}"#);
    let send = |text: &str| {
        let wire = encode_message(text, MessageEncoding::Base64);
        let storage = storage.clone();
        async move { storage.send_message("orders", &wire).await.unwrap() }
    };
    send(&order).await;
    let path = format!("receipts/{id}.json");
    let receipt = wait_for("receipt", Duration::from_secs(30), || async {
        storage.get_blob_path(&path).await.unwrap()
    })
    .await;
    let receipt: Value = serde_json::from_slice(&receipt).unwrap();
    assert_eq!(
        receipt,
        serde_json::json!({"orderId": id, "item": "book", "quantity": 2, "attempt": 1})
    );
    // Quantity 0: the function says bad input; the host retries (maxDequeueCount 3), then
    // keeps the message, as it came, in orders-poison.
    let bad_id = format!("o-{}", uuid::Uuid::new_v4());
    let bad = format!(r#"{{"orderId":"{bad_id}","item":"book","quantity":0}}"#);
    send(&bad).await;
    wait_for("poisoned order", Duration::from_secs(45), || async {
        let peeked = storage.peek_messages("orders-poison", 32).await.unwrap();
        peeked
            .iter()
            .any(|m| {
                decode_message(&m.text, MessageEncoding::Base64)
                    .ok()
                    .as_deref()
                    == Some(bad.as_str())
            })
            .then_some(())
    })
    .await;
    let bad_path = format!("receipts/{bad_id}.json");
    assert_eq!(storage.get_blob_path(&bad_path).await.unwrap(), None);
    example.stop().await;
}

#[tokio::test]
async fn timer_beats_at_start_up_and_then_on_schedule() {
    let storage = storage();
    let _ = storage.delete_blob("heartbeat", "latest.json").await;
    let example = Example::start("timer", &[]).await;
    let read = || async {
        let bytes = storage
            .get_blob_path("heartbeat/latest.json")
            .await
            .unwrap()?;
        serde_json::from_slice::<Value>(&bytes).ok()
    };
    let first = wait_for("start-up beat", Duration::from_secs(30), read).await;
    assert_eq!(first["pastDue"], false);
    let second = wait_for("scheduled beat", Duration::from_secs(30), || async {
        read().await.filter(|beat| beat["at"] != first["at"])
    })
    .await;
    assert!(second["at"].as_str().unwrap() > first["at"].as_str().unwrap());
    example.stop().await;
}

/// The event carries the blob's own content type, as Azure Storage sends it (learn.microsoft.com,
/// "Azure Blob Storage as an Event Grid source", `data.contentType`).
#[tokio::test]
async fn blob_created_queues_a_note_for_each_new_blob() {
    let storage = storage();
    storage.ensure_container("incoming").await.unwrap();
    storage.ensure_queue("uploaded").await.unwrap();
    let example = Example::start(
        "blob-created",
        &[("LOCALHOST_BLOB_EVENTS", "uploaded=incoming")],
    )
    .await;
    let name = format!("{}.csv", uuid::Uuid::new_v4());
    storage
        .put_blob("incoming", &name, b"a,b\n1,2\n".to_vec(), "text/csv")
        .await
        .unwrap();
    let note = wait_for("note on `uploaded`", Duration::from_secs(30), || async {
        let peeked = storage.peek_messages("uploaded", 32).await.unwrap();
        peeked.iter().find_map(|m| {
            let text = decode_message(&m.text, MessageEncoding::Base64).ok()?;
            let note: Value = serde_json::from_str(&text).ok()?;
            note["url"].as_str()?.ends_with(&name).then_some(note)
        })
    })
    .await;
    assert_eq!(note["bytes"], 8);
    assert_eq!(note["contentType"], "text/csv");
    assert_eq!(
        note["subject"],
        format!("/blobServices/default/containers/incoming/blobs/{name}")
    );
    example.stop().await;
}
