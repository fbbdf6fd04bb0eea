//! The test client runs a function in process through the runtime's own dispatch and reads
//! its outputs as the host applies them.

use crate::helpers::{ECHO, JOB, NEXT, PNG, RES, RESULT, toy_app};
use functions_custom_handler::HttpRequest;
use functions_custom_handler::testing::{Event, TestClient};
use serde_json::{Value, json};

fn corpus(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance/requests")
        .join(name)
}

#[actix_web::test]
async fn an_event_file_runs_a_queue_function_and_its_outputs_read_as_the_host_writes_them() {
    let client = TestClient::new(toy_app()).unwrap();
    let event = Event::from_file(corpus("queue_message.json")).unwrap();
    let invoked = client.invoke("work", event).await;
    assert_eq!(invoked.failure(), None);
    assert_eq!(
        invoked.messages(&NEXT),
        vec!["done:5b0f2e8c-0c4e-4d7f-9a51-0f6a0d5e3c21"]
    );
    let result: Value = serde_json::from_slice(&invoked.blob(&RESULT).unwrap()).unwrap();
    assert_eq!(
        result,
        json!({"jobId": "5b0f2e8c-0c4e-4d7f-9a51-0f6a0d5e3c21", "rows": 2, "attempt": 1})
    );
    assert_eq!(
        invoked.logs(),
        ["[INFO] job 5b0f2e8c-0c4e-4d7f-9a51-0f6a0d5e3c21 attempt Some(1)"]
    );
}

#[actix_web::test]
async fn a_typed_message_and_a_typed_request_make_invocations_too() {
    let client = TestClient::new(toy_app()).unwrap();
    let invoked = client
        .invoke(
            "work",
            Event::queue(&JOB, r#"{"jobId":"j-1","rowCount":3}"#),
        )
        .await;
    assert_eq!(invoked.messages(&NEXT), vec!["done:j-1"]);
    let request = HttpRequest::new("POST", "http://localhost/api/echo")
        .with_header("X-Trace", "t-1")
        .with_body("hello");
    let invoked = client.invoke("echo", Event::http(&ECHO, request)).await;
    let res = invoked.http(&RES).unwrap();
    assert_eq!(res.status, 200);
    let body: Value = serde_json::from_slice(res.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        (body["text"].as_str(), body["trace"].as_str()),
        (Some("hello"), Some("t-1"))
    );
}

#[actix_web::test]
async fn a_failed_invocation_says_why_and_applies_nothing() {
    let client = TestClient::new(toy_app()).unwrap();
    let invoked = client.invoke("work", Event::queue(&JOB, "not json")).await;
    assert!(!invoked.succeeded());
    assert!(
        invoked
            .failure()
            .unwrap()
            .starts_with("the queue message is not the expected JSON"),
        "{:?}",
        invoked.failure()
    );
    assert!(invoked.messages(&NEXT).is_empty());
    let (status, body) = invoked.host_answer();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (500, Some("failed"))
    );
}

/// With forwarding on, the client runs a forwardable function as the host does: the response
/// the function built reaches the caller, bytes and all.
#[actix_web::test]
async fn a_forwarded_function_answers_bytes_through_the_client() {
    const PICTURE: functions_custom_handler::bindings::HttpTrigger =
        functions_custom_handler::bindings::HttpTrigger::get("req", "picture");
    let client = TestClient::new(toy_app().forward_http_requests(true)).unwrap();
    let request = HttpRequest::new("GET", "http://localhost/api/picture");
    let invoked = client
        .invoke("picture", Event::http(&PICTURE, request))
        .await;
    let res = invoked.http(&RES).unwrap();
    assert_eq!(res.body.as_deref(), Some(PNG));
    assert_eq!(res.header_value("Content-Type"), Some("image/png"));
}

/// A forwarded function's fault is a failed invocation in the client too, with the opaque
/// 500 its caller gets.
#[actix_web::test]
async fn a_forwarded_functions_fault_is_a_failure() {
    const BROKEN: functions_custom_handler::bindings::HttpTrigger =
        functions_custom_handler::bindings::HttpTrigger::post("req", "broken");
    let client = TestClient::new(toy_app().forward_http_requests(true)).unwrap();
    let request = HttpRequest::new("POST", "http://localhost/api/broken");
    let invoked = client.invoke("broken", Event::http(&BROKEN, request)).await;
    assert_eq!(invoked.failure(), Some("the invariant does not hold"));
    assert_eq!(invoked.http(&RES).unwrap().status, 500);
}
