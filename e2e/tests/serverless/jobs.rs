use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{KEY, QUEUE, records, start};

#[tokio::test]
async fn a_submitted_job_gets_its_result_blob_and_job_status_returns_it() {
    let stack = start().await;
    let res = stack.submit(&records(3)).await;
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().await.unwrap();
    let id = accepted["jobId"].as_str().unwrap().to_owned();
    assert_eq!(accepted["status"], "queued");
    assert_eq!(accepted["statusUrl"], format!("/api/jobs/{id}"));

    let result = stack.wait_for_result(&id, Duration::from_secs(30)).await;
    assert_eq!(result["status"], "succeeded");
    assert_eq!(result["rows"], 3);
    assert_eq!(result["predictions"].as_array().unwrap().len(), 3);

    // The blob is really there, and job-status answers exactly its content.
    let blob = stack
        .storage
        .get_blob("results", &format!("{id}.json"))
        .await
        .unwrap()
        .unwrap();
    let stored: Value = serde_json::from_slice(&blob).unwrap();
    assert_eq!(stored, result);
    stack.host.stop().await;
}

#[tokio::test]
async fn two_hundred_concurrent_jobs_each_get_exactly_one_result() {
    let stack = start().await;
    let submissions = (0..200).map(|i| {
        let stack = &stack;
        async move {
            let rows = 1 + i % 7;
            let res = stack.submit(&records(rows)).await;
            assert_eq!(res.status(), 202);
            let v: Value = res.json().await.unwrap();
            (v["jobId"].as_str().unwrap().to_owned(), rows)
        }
    });
    let jobs: Vec<(String, usize)> = join_all(submissions).await;
    let ids: HashSet<&str> = jobs.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), 200, "every job has its own id");

    for (id, rows) in &jobs {
        let result = stack.wait_for_result(id, Duration::from_secs(120)).await;
        assert_eq!(result["status"], "succeeded", "{id}");
        assert_eq!(
            result["predictions"].as_array().unwrap().len(),
            *rows,
            "{id}"
        );
    }
    // One result document per job, and nothing left behind on the queues.
    let names: Vec<String> = stack.storage.list_blobs("results", None).await.unwrap();
    for (id, _) in &jobs {
        let n = names.iter().filter(|n| **n == format!("{id}.json")).count();
        assert_eq!(n, 1, "{id}");
    }
    assert!(stack.queue_is_empty(QUEUE).await);
    assert!(stack.queue_is_empty("predict-jobs-poison").await);
    stack.host.stop().await;
}

#[tokio::test]
async fn an_invalid_batch_gets_400_and_nothing_is_enqueued() {
    let stack = start().await;
    let bad =
        json!([{"CHAS": 2, "RM": 6.5, "TAX": 296, "PTRATIO": 15.3, "B": 396.9, "LSTAT": 4.98}]);
    let res = stack.submit(&bad).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_value");
    assert!(body["error"]["message"].as_str().unwrap().contains("CHAS"));
    // Give a wrongly sent message time to show up before declaring the queue empty.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(stack.queue_is_empty(QUEUE).await);
    stack.host.stop().await;
}

#[tokio::test]
async fn a_function_route_needs_its_key() {
    let stack = start().await;
    let payload = json!({"CHAS":{"0":0},"RM":{"0":6.575},"TAX":{"0":296.0},"PTRATIO":{"0":15.3},"B":{"0":396.9},"LSTAT":{"0":4.98}});
    let without = stack
        .http
        .post(stack.url("/api/predict"))
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), 401);
    let wrong = stack
        .http
        .post(stack.url("/api/predict"))
        .header("x-functions-key", "not-the-key")
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let with_header = stack
        .http
        .post(stack.url("/api/predict"))
        .header("x-functions-key", KEY)
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), 200);
    let v: Value = with_header.json().await.unwrap();
    let price = v["prediction"][0].as_f64().unwrap();
    assert!((price - 24.0).abs() < 3.0, "{price}");
    let with_code = stack
        .http
        .post(stack.url(&format!("/api/predict?code={KEY}")))
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(with_code.status(), 200);
    stack.host.stop().await;
}

#[tokio::test]
async fn a_job_too_large_for_one_message_travels_through_a_blob() {
    let stack = start().await;
    // As on a fresh Azurite: submit-job creates the container it needs.
    stack.storage.delete_container("job-inputs").await.unwrap();
    let res = stack.submit(&records(5_000)).await;
    assert_eq!(res.status(), 202);
    let id = res.json::<Value>().await.unwrap()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    let result = stack.wait_for_result(&id, Duration::from_secs(60)).await;
    assert_eq!(result["status"], "succeeded");
    assert_eq!(result["predictions"].as_array().unwrap().len(), 5_000);
    let rows = stack
        .storage
        .get_blob("job-inputs", &format!("{id}.json"))
        .await
        .unwrap();
    assert!(rows.is_some(), "the rows were kept in job-inputs/{id}.json");
    stack.host.stop().await;
}
