//! Forwarded HTTP (`enableForwardingHttpRequest`): plain HTTP functions at `/api/<route>`.

use crate::helpers::{assert_json_error, corpus_given, corpus_request, spawn_forwarding_app};
use base64::Engine as _;
use serde_json::{Value, json};

#[tokio::test]
async fn a_forwarded_get_reaches_the_function_with_route_params_and_query() {
    let app = spawn_forwarding_app().await;
    let response = app
        .client
        .get(format!("{}/api/items/a%20b?x=1&x=2&y=z", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // The host passes a forwarded answer on as it is: the response as the function built it.
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"id": "a b", "query": {"x": "1,2", "y": "z"}, "sys": "item"})
    );
}

#[tokio::test]
async fn a_forwarded_post_gets_the_functions_status_headers_and_body() {
    let app = spawn_forwarding_app().await;
    let response = app
        .client
        .post(format!("{}/api/echo", app.address))
        .header("X-Trace", "abc")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["x-echo"], "yes");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["text"], "hello");
    assert_eq!(body["trace"], "abc");
    assert_eq!(body["method"], "POST");
}

#[tokio::test]
async fn a_forwarded_rejection_reaches_the_caller_as_its_400() {
    let app = spawn_forwarding_app().await;
    let response = app
        .client
        .post(format!("{}/api/echo", app.address))
        .send()
        .await
        .unwrap();
    assert_json_error(response, 400, "empty_body").await;
}

#[tokio::test]
async fn binary_bodies_are_forwarded_as_base64_and_decoded_back_to_bytes() {
    let app = spawn_forwarding_app().await;
    let bytes = vec![0u8, 159, 146, 150, 255];
    let response = app
        .client
        .post(format!("{}/api/echo", app.address))
        .header("Content-Type", "application/octet-stream")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["bytes"], 5);
    // The echo shows the bytes it received as lossy text; they must be the original bytes.
    assert_eq!(body["text"], String::from_utf8_lossy(&bytes).as_ref());
    assert_ne!(
        body["text"],
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
}

#[tokio::test]
async fn a_bad_input_error_is_a_400_with_its_message_for_forwarded_callers() {
    let app = spawn_forwarding_app().await;
    let response = app
        .client
        .get(format!("{}/api/items/missing", app.address))
        .send()
        .await
        .unwrap();
    let message = assert_json_error(response, 400, "bad_request").await;
    assert_eq!(message, "there is no item `missing`");
}

#[tokio::test]
async fn a_permanent_error_is_an_opaque_500_for_forwarded_callers() {
    let app = spawn_forwarding_app().await;
    let response = app
        .client
        .post(format!("{}/api/broken", app.address))
        .send()
        .await
        .unwrap();
    let message = assert_json_error(response, 500, "internal_error").await;
    assert!(!message.contains("invariant"));
}

#[tokio::test]
async fn a_method_the_trigger_does_not_accept_gets_405() {
    let app = spawn_forwarding_app().await;
    let response = app
        .client
        .delete(format!("{}/api/items/1", app.address))
        .send()
        .await
        .unwrap();
    assert_json_error(response, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn unknown_routes_and_non_forwardable_functions_get_404() {
    let app = spawn_forwarding_app().await;
    for path in ["/api/nothing", "/api/submissions", "/other/echo", "/api/"] {
        let response = app
            .client
            .post(format!("{}{path}", app.address))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_json_error(response, 404, "not_found").await;
    }
}

#[tokio::test]
async fn the_json_protocol_still_works_when_forwarding_is_on() {
    let app = spawn_forwarding_app().await;
    let response = app
        .invoke("submit", corpus_request("http_trigger_with_body.json"))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["Outputs"]["res"]["statusCode"], "202");
    let message = base64::engine::general_purpose::STANDARD
        .decode(body["Outputs"]["msg"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        message,
        corpus_given("http_trigger_with_body.json")["body"]
            .as_str()
            .unwrap()
            .as_bytes()
    );
}

#[tokio::test]
async fn a_forwarded_body_reaches_the_function_byte_for_byte_even_when_it_is_not_utf8() {
    // The host streams a forwarded body through unchanged (`new StreamContent(request.Body)`,
    // src/WebJobs.Script/Extensions/HttpRequestExtensions.cs); before, the runtime made it
    // lossy text, so a UTF-16 body reached the function as U+FFFD replacement characters.
    let app = spawn_forwarding_app().await;
    let sent: Vec<u8> = vec![0xFF, 0xFE, b'{', 0, b'}', 0];
    let response = app
        .client
        .post(format!("{}/api/echo", app.address))
        .header("Content-Type", "application/json")
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["bytes"], sent.len());
}

/// A forwarded function's answer reaches the caller as it is, bytes and all
/// (`ProcessHttpInAndOutInvocationRequest` in `DefaultHttpWorkerService.cs`).
#[tokio::test]
async fn a_forwarded_function_returns_bytes_that_are_not_utf8() {
    let app = spawn_forwarding_app().await;
    let response = app
        .client
        .get(format!("{}/api/picture", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(&response.bytes().await.unwrap()[..], crate::helpers::PNG);
}
