use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{POISON, QUEUE, start};

fn job_message(id: &uuid::Uuid, fault: &str) -> String {
    json!({
        "jobId": id.to_string(),
        "submittedAt": "2026-01-01T00:00:00Z",
        "features": ["CHAS", "RM", "TAX", "PTRATIO", "B", "LSTAT"],
        "rows": [[0, 6.575, 296, 15.3, 396.9, 4.98]],
        "rowCount": 1,
        "testFault": fault,
    })
    .to_string()
}

#[tokio::test]
async fn a_transient_failure_is_retried_and_then_succeeds() {
    let stack = start().await;
    let id = uuid::Uuid::new_v4();
    stack.enqueue_raw(&job_message(&id, "first-2")).await;
    let result = stack
        .wait_for_result(&id.to_string(), Duration::from_secs(30))
        .await;
    assert_eq!(result["status"], "succeeded");
    assert!(stack.queue_is_empty(POISON).await);
    stack.host.stop().await;
}

#[tokio::test]
async fn a_message_that_always_fails_reaches_the_poison_queue_with_its_body_intact() {
    let stack = start().await;
    let id = uuid::Uuid::new_v4();
    let wire = stack.enqueue_raw(&job_message(&id, "always")).await;
    let start = Instant::now();
    let poisoned = stack.wait_for_poison(Duration::from_secs(60)).await;
    assert_eq!(
        poisoned.text, wire,
        "the poison message is byte-for-byte the original"
    );
    // maxDequeueCount is 5 and retries wait visibilityTimeout (1 s here): five attempts
    // cannot happen faster than four retry delays.
    assert!(
        start.elapsed() >= Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert!(stack.queue_is_empty(QUEUE).await);
    let result = stack
        .storage
        .get_blob("results", &format!("{id}.json"))
        .await
        .unwrap();
    assert!(result.is_none(), "a failed message writes no result");
    stack.host.stop().await;
}

#[tokio::test]
async fn a_message_without_a_job_id_is_poisoned_not_lost() {
    let stack = start().await;
    let wire = stack
        .enqueue_raw(r#"{"rows":[[0,6.575,296,15.3,396.9,4.98]]}"#)
        .await;
    let poisoned = stack.wait_for_poison(Duration::from_secs(60)).await;
    assert_eq!(poisoned.text, wire);
    stack.host.stop().await;
}

#[tokio::test]
async fn the_handler_killed_mid_flight_is_restarted_and_every_job_gets_its_result() {
    let stack = start().await;
    // Jobs big enough that scoring takes a while in a debug build, so that killing the
    // handler right after the first result lands catches others half-done.
    let rows: Vec<[f64; 6]> = (0..20_000)
        .map(|i| [0.0, 5.0 + (i % 30) as f64 / 10.0, 296.0, 15.3, 396.9, 4.98])
        .collect();
    let rows_json = serde_json::to_vec(&rows).unwrap();
    let mut ids = Vec::new();
    for _ in 0..24 {
        let id = uuid::Uuid::new_v4();
        stack
            .storage
            .put_blob(
                "job-inputs",
                &format!("{id}.json"),
                rows_json.clone(),
                "application/json",
            )
            .await
            .unwrap();
        let message = json!({
            "jobId": id.to_string(),
            "submittedAt": "2026-01-01T00:00:00Z",
            "features": ["CHAS", "RM", "TAX", "PTRATIO", "B", "LSTAT"],
            "rowsBlob": format!("job-inputs/{id}.json"),
            "rowCount": rows.len(),
        });
        stack.enqueue_raw(&message.to_string()).await;
        ids.push(id.to_string());
    }
    let start = Instant::now();
    let done = |names: &[String]| {
        ids.iter()
            .filter(|id| names.contains(&format!("{id}.json")))
            .count()
    };
    loop {
        let names = stack.storage.list_blobs("results", None).await.unwrap();
        if done(&names) > 0 {
            assert!(
                done(&names) < ids.len(),
                "every job finished before the kill"
            );
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no job finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = stack.host.handler_pid().expect("the handler is running");
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // The host notices, starts a new handler, and the queue redelivers what was in flight.
    let restart = Instant::now();
    loop {
        if let Some(new) = stack.host.handler_pid()
            && new != pid
        {
            break;
        }
        assert!(
            restart.elapsed() < Duration::from_secs(30),
            "the handler was not restarted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for id in &ids {
        let result = stack.wait_for_result(id, Duration::from_secs(180)).await;
        assert_eq!(result["status"], "succeeded", "{id}");
        assert_eq!(result["predictions"].as_array().unwrap().len(), rows.len());
    }
    assert!(stack.queue_is_empty(POISON).await);
    stack.host.stop().await;
}
