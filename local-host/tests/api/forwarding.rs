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

/// Sends `head_and_body` as it is and reads the whole answer (the request says
/// `Connection: close`).
async fn raw_exchange(port: u16, request: &'static [u8]) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(request).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_chunked_request_fails_with_the_hosts_empty_500_as_in_azure() {
    // ToHttpRequestMessage (azure-functions-host src/WebJobs.Script/Extensions/
    // HttpRequestExtensions.cs) attaches a body only when Content-Length > 0 but copies
    // `Transfer-Encoding: chunked`; .NET's SocketsHttpHandler then refuses to send it
    // (dotnet/runtime SocketsHttpHandler.cs, ValidateAndNormalizeRequest:
    // net_http_chunked_not_allowed_with_empty_content), and the host answers 500.
    let app = spawn_app("forwarding-app").await;
    let raw = raw_exchange(
        app.host.port(),
        b"POST /api/echo/5 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nstreamed\r\n0\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 500"), "{raw}");
    assert!(!raw.contains("forwarded"), "the handler was reached: {raw}");
    // Without a body, a request is forwarded as usual.
    let plain = raw_exchange(
        app.host.port(),
        b"GET /api/echo/5 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_the_hosts_100_mb_is_its_500_not_a_413() {
    // Kestrel's limit throws when the HTTP binding reads the body; the host's exception
    // middleware makes that a 500 (azure-functions-host Middleware/
    // HttpRequestBodySizeMiddleware.cs, azure-functions-host#10519).
    let app = spawn_app("forwarding-app").await;
    let raw = raw_exchange(
        app.host.port(),
        b"POST /api/echo/5 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 104857601\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 500"), "{raw}");
    app.stop().await;
}

#[tokio::test]
async fn content_headers_are_dropped_but_the_type_and_length_of_a_body() {
    // .NET keeps these on the content (dotnet/runtime Headers/KnownHeaders.cs); the host's
    // TryAddWithoutValidation refuses them on the request and sets only Content-Type and
    // Content-Length again (ToHttpRequestMessage). So a gzip body arrives without its
    // Content-Encoding, and the caller's User-Agent gains the host's product.
    let app = spawn_app("forwarding-app").await;
    let response = app
        .client
        .post(app.url("/api/echo/5"))
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .header("Content-Language", "en")
        .header("Content-MD5", "Q2hlY2sgSW50ZWdyaXR5IQ==")
        .header("Expires", "0")
        .header("User-Agent", "curl/8.5.0")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let headers = body["headers"].as_object().unwrap();
    for dropped in [
        "content-encoding",
        "content-language",
        "content-md5",
        "expires",
    ] {
        assert!(!headers.contains_key(dropped), "{dropped}: {headers:?}");
    }
    assert_eq!(headers["content-type"], json!("application/json"));
    assert_eq!(headers["content-length"], json!("2"));
    let agent = headers["user-agent"].as_str().unwrap();
    assert!(
        agent.starts_with("curl/8.5.0 Azure-Functions-Host/"),
        "{agent}"
    );
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
