//! `housekeeping` through the local host on Azurite, run by the admin API: old blobs go, new
//! ones stay, and the poison queue is drained into `poison/<messageId>.json`, also when two
//! runs overlap.

use std::time::{Duration, Instant};

use serde_json::Value;
use storage::{MessageEncoding, encode_message};

use crate::helpers::{POISON, start_with_settings};

const SWEPT: [&str; 3] = ["results", "job-inputs", "uploads"];

#[tokio::test]
async fn housekeeping_deletes_what_is_old_keeps_what_is_new_and_drains_the_poison_queue() {
    let stack = start_with_settings(&[("HOUSEKEEPING_RETENTION", "00:00:02")]).await;
    let storage = &stack.storage;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let put = |container: &'static str, name: String| async move {
        storage.ensure_container(container).await.unwrap();
        storage
            .put_blob(container, &name, b"{}".to_vec(), "application/json")
            .await
            .unwrap();
        (container, name)
    };
    let mut old = Vec::new();
    for container in SWEPT {
        for i in 0..3 {
            old.push(put(container, format!("hk-{run}-old-{i}.json")).await);
        }
    }
    // Blob times have whole seconds: 4 s makes these older than the 2 s retention.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut new = Vec::new();
    for container in SWEPT {
        new.push(put(container, format!("hk-{run}-new.json")).await);
    }
    let mut poisoned = Vec::new();
    for i in 0..3 {
        let text = format!(r#"{{"jobId":"hk-{run}-{i}","why":"poisoned"}}"#);
        let sent = storage
            .send_message(POISON, &encode_message(&text, MessageEncoding::Base64))
            .await
            .unwrap();
        poisoned.push((sent.id, text));
    }

    // Two runs at once, as when the singleton lease lapses.
    tokio::join!(
        stack.admin_invoke("housekeeping", ""),
        stack.admin_invoke("housekeeping", "")
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut old_left = 0;
        for (container, name) in &old {
            old_left += usize::from(storage.get_blob(container, name).await.unwrap().is_some());
        }
        let drained = stack.queue_is_empty(POISON).await;
        if old_left == 0 && drained {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{old_left} old blobs left, poison queue drained: {drained}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (container, name) in &new {
        assert!(
            storage.get_blob(container, name).await.unwrap().is_some(),
            "{container}/{name} was deleted"
        );
    }
    for (id, text) in &poisoned {
        let blob = storage
            .get_blob("poison", &format!("{id}.json"))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no poison/{id}.json"));
        let record: Value = serde_json::from_slice(&blob).unwrap();
        assert_eq!(record["messageId"], id.as_str());
        assert_eq!(record["body"], text.as_str());
        // The poison copy's own count: received once, by the run that drained it.
        assert_eq!(record["dequeueCount"], 1, "{record}");
        assert!(record["drainedAt"].is_string(), "{record}");
    }
    stack.host.stop().await;
}
