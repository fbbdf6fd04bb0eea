use crate::helpers::spawn_app;
use serde_json::{Value, json};
use storage::MessageEncoding;

#[tokio::test]
async fn a_forwardable_function_gets_the_original_request_and_its_answer_goes_back_unchanged() {
    let app = spawn_app("forwarding-app").await;
    let response = app
        .client
        .post(app.url("/api/echo/5?x=1&x=2"))
        .header("X-Custom", "v")
        .header("Content-Type", "text/plain")
        .body("hi there")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-handler"], "forwarded");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["forwarded"], json!(true));
    assert_eq!(body["method"], json!("POST"));
    assert_eq!(body["path"], json!("/api/echo/5"));
    // Rebuilt from the parsed dictionary, comma-joined and escaped (ToHttpRequestMessage in
    // azure-functions-host src/WebJobs.Script/Extensions/HttpRequestExtensions.cs).
    assert_eq!(body["query"], json!("x=1%2C2"));
    assert_eq!(body["body"], json!("hi there"));
    assert_eq!(body["headers"]["x-custom"], json!("v"));
    assert!(body["headers"]["x-azure-functions-invocationid"].is_string());
    // Host is copied like every other header (ToHttpRequestMessage).
    assert_eq!(
        body["headers"]["host"],
        json!(format!("127.0.0.1:{}", app.host.port()))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_chunked_request_is_forwarded_without_its_body_as_the_host_does() {
    // ToHttpRequestMessage copies the body only when Content-Length > 0.
    let app = spawn_app("forwarding-app").await;
    let port = app.host.port();
    let raw = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .write_all(
                b"POST /api/echo/5 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nstreamed\r\n0\r\n\r\n",
            )
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let json_start = raw.find('{').unwrap();
    let body: Value = serde_json::from_str(&raw[json_start..raw.rfind('}').unwrap() + 1]).unwrap();
    assert_eq!(body["body"], json!(""));
    assert_eq!(body["forwarded"], json!(true));
    app.stop().await;
}

#[tokio::test]
async fn redirects_from_a_forwarded_function_are_not_followed() {
    let app = spawn_app("forwarding-app").await;
    let response = app.get("/api/go/redirect").await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/elsewhere");
    app.stop().await;
}

#[tokio::test]
async fn forwarded_functions_still_need_their_key() {
    let app = spawn_app("forwarding-app").await;
    assert_eq!(app.get("/api/secure/a/b").await.status(), 401);
    let response = app.get("/api/secure/a/b?code=fixture-function-key").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["path"], json!("/api/secure/a/b"));
    app.stop().await;
}

#[tokio::test]
async fn a_function_with_other_bindings_keeps_the_json_protocol_under_forwarding() {
    let app = spawn_app("forwarding-app").await;
    let response = app.enqueue(json!("via json protocol")).await;
    assert_eq!(response.status(), 202);
    let peeked = app.storage.peek_messages(&app.names.out, 32).await.unwrap();
    assert_eq!(peeked.len(), 1);
    assert_eq!(
        storage::decode_message(&peeked[0].text, MessageEncoding::Base64).unwrap(),
        "via json protocol"
    );
    app.stop().await;
}
