//! The JSON protocol at `POST /{FunctionName}`, as the host speaks it.

use crate::helpers::{
    assert_json_error, corpus_given, corpus_request, http_envelope, spawn, spawn_app, toy_app,
};
use functions_custom_handler::HttpResponse;
use functions_custom_handler_protocol::InvocationResponse;
use serde_json::{Value, json};

#[tokio::test]
async fn readiness_probe_answers_200() {
    let app = spawn_app().await;
    let response = app.client.get(&app.address).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn echo_returns_its_http_output_and_logs_over_the_json_protocol() {
    let app = spawn_app().await;
    let response = app
        .invoke("echo", corpus_request("http_trigger_with_body.json"))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    // The host reads the answer with ReadAsAsync, which needs a JSON media type
    // (DefaultHttpWorkerService.cs).
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: InvocationResponse = response.json().await.unwrap();
    // Lines the function logged through the invocation come first, then its own Logs.
    let sent = corpus_given("http_trigger_with_body.json")["body"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        body.logs,
        vec![
            format!("[INFO] echoing {} bytes", sent.len()),
            "[INFO] echo done".into()
        ]
    );
    let res = body.http_output("res").unwrap().unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(res.header_value("x-echo"), Some("yes"));
    let echoed: Value = serde_json::from_slice(res.body.as_deref().unwrap()).unwrap();
    assert_eq!(echoed["text"], sent);
    assert_eq!(echoed["query"]["tag"], "a,b");
    assert_eq!(echoed["trace"], "one");
    assert_eq!(echoed["invocation"], "11111111-2222-3333-4444-555555555555");
}

#[tokio::test]
async fn the_http_output_is_sent_with_a_string_status_as_microsoft_samples_do() {
    let app = spawn_app().await;
    let response = app
        .invoke("echo", corpus_request("http_trigger_with_body.json"))
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["Outputs"]["res"]["statusCode"], "200");
    assert!(body["Outputs"]["res"]["body"].is_string());
    assert!(body.get("ReturnValue").is_some());
}

#[tokio::test]
async fn a_function_rejecting_input_answers_the_host_200_with_the_callers_400() {
    let app = spawn_app().await;
    let response = app.invoke_json("echo", &http_envelope("POST", None)).await;
    assert_eq!(response.status().as_u16(), 200);
    let body: InvocationResponse = response.json().await.unwrap();
    let res = body.http_output("res").unwrap().unwrap();
    assert_eq!(res.status, 400);
    assert_eq!(body.logs, vec!["[WARN] rejected an empty body"]);
}

/// An `application/octet-stream` body arrives as base64 (`HttpRequestExtensions.cs`); one
/// that is not is the host's fault or a forgery, not the caller's.
#[tokio::test]
async fn a_body_that_does_not_decode_fails_the_invocation() {
    let app = spawn_app().await;
    let mut envelope = http_envelope("POST", Some("not base64!"));
    envelope["Data"]["req"]["Headers"]["Content-Type"] = json!(["application/octet-stream"]);
    let response = app.invoke_json("echo", &envelope).await;
    let message = assert_json_error(response, 500, "failed").await;
    assert!(
        message.contains("is declared as application/octet-stream but is not valid base64"),
        "{message}"
    );
}

#[tokio::test]
async fn a_permanent_error_fails_the_invocation_so_the_host_records_it() {
    let app = spawn_app().await;
    let response = app
        .invoke_json("broken", &http_envelope("POST", Some("{}")))
        .await;
    let message = assert_json_error(response, 500, "failed").await;
    assert_eq!(message, "the invariant does not hold");
}

#[tokio::test]
async fn a_queue_function_gets_the_unquoted_message_and_metadata() {
    use base64::Engine as _;
    let decode = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    let app = spawn_app().await;
    let response = app
        .invoke("work", corpus_request("queue_message.json"))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body: InvocationResponse = response.json().await.unwrap();
    // One message and a blob go as base64, which the host writes as exactly these bytes.
    assert_eq!(
        decode(&body.outputs["next"]),
        b"done:5b0f2e8c-0c4e-4d7f-9a51-0f6a0d5e3c21"
    );
    let result: Value = serde_json::from_slice(&decode(&body.outputs["result"])).unwrap();
    assert_eq!(result["attempt"], 1);
    assert_eq!(result["rows"], 2);
    assert_eq!(
        body.logs,
        vec!["[INFO] job 5b0f2e8c-0c4e-4d7f-9a51-0f6a0d5e3c21 attempt Some(1)"]
    );
}

#[tokio::test]
async fn a_bare_queue_string_contradicts_its_text_declaration_and_fails() {
    // The docs show plain values; the host double-encodes (ScriptInvocationContextExtensions.cs).
    let app = spawn_app().await;
    let envelope = json!({"Data": {"job": "{\"jobId\":\"j-2\",\"rows\":5}"}, "Metadata": {}});
    let response = app.invoke_json("work", &envelope).await;
    let message = assert_json_error(response, 500, "failed").await;
    assert!(
        message.contains("declared as text, which the host sends as a JSON string literal"),
        "{message}"
    );
}

/// Nothing is completed as if it had succeeded: the host retries the message, then keeps it
/// in the poison queue (`QueueProcessor.cs`).
#[tokio::test]
async fn a_malformed_queue_message_fails_so_the_host_retries_and_then_keeps_it() {
    let app = spawn_app().await;
    let envelope = json!({"Data": {"job": "\"not json\""}, "Metadata": {"DequeueCount": "1"}});
    let response = app.invoke_json("work", &envelope).await;
    let message = assert_json_error(response, 500, "failed").await;
    assert!(
        message.starts_with("the queue message is not the expected JSON"),
        "{message}"
    );
}

#[tokio::test]
async fn a_transient_error_answers_the_host_500_so_it_retries() {
    let app = spawn_app().await;
    let envelope = json!({"Data": {"job": "\"x\""}, "Metadata": {}});
    let response = app.invoke_json("flaky", &envelope).await;
    let message = assert_json_error(response, 500, "transient_failure").await;
    assert_eq!(message, "the dependency is unavailable: connection refused");
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let response = app
        .invoke_json("panicky", &http_envelope("POST", Some("{}")))
        .await;
    assert_json_error(response, 500, "handler_panicked").await;
    let response = app
        .invoke("echo", corpus_request("http_trigger_with_body.json"))
        .await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn malformed_envelopes_get_a_400_json_error_naming_the_problem() {
    let app = spawn_app().await;
    let cases: [(&str, &str); 6] = [
        ("not json at all", "the invocation body is not valid JSON"),
        ("", "the invocation body is not valid JSON"),
        ("[1, 2]", "the invocation body is an array"),
        (
            r#"{"Metadata": {}}"#,
            "the invocation body has no Data object",
        ),
        (r#"{"Data": "x"}"#, "the invocation body's Data is a string"),
        (
            r#"{"Data": {}, "Metadata": 7}"#,
            "the invocation body's Metadata is a number",
        ),
    ];
    for (body, expected) in cases {
        let response = app.invoke("echo", body.to_string()).await;
        let message = assert_json_error(response, 400, "invalid_invocation").await;
        assert!(message.starts_with(expected), "{body:?}: {message}");
    }
}

/// A trigger the host could not have sent is a fault, never the caller's: the invocation
/// fails (the host answers the caller 500 and records a failure), and the reason is logged.
#[tokio::test]
async fn a_trigger_of_the_wrong_shape_fails_the_invocation_and_never_blames_the_caller() {
    let app = spawn_app().await;
    for data in [json!({}), json!({"req": 5}), json!({"req": {"Url": "u"}})] {
        let response = app
            .invoke_json("echo", &json!({"Data": data, "Metadata": {}}))
            .await;
        let message = assert_json_error(response, 500, "failed").await;
        assert!(
            message.starts_with("the trigger `req` is unusable"),
            "{message}"
        );
    }
}

/// The typo the typed declarations make impossible to compile, reached through a
/// declaration of another function: before, the caller was told 400 "the invocation has no
/// HTTP trigger named 'request'".
#[tokio::test]
async fn reading_a_binding_the_declaration_lacks_fails_the_invocation_with_a_500() {
    let app = spawn_app().await;
    let response = app
        .invoke_json("typo", &http_envelope("POST", Some("{}")))
        .await;
    let message = assert_json_error(response, 500, "failed").await;
    assert_eq!(
        message,
        "the function `typo` reads the httpTrigger binding `request`, which its declaration lacks"
    );
}

/// Without `error_body`, what the runtime answers is the message as plain text.
#[tokio::test]
async fn the_default_error_body_is_plain_text() {
    let app = spawn(crate::helpers::plain_toy_app()).await;
    let response = app.invoke_json("nope", &http_envelope("POST", None)).await;
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        response.text().await.unwrap(),
        "no function named `nope` is declared in this app"
    );
    let response = app
        .invoke_json(
            "item",
            &json!({"Data": {"req": {"Url": "u", "Method": "GET", "Params": {"id": "missing"}}}}),
        )
        .await;
    let body: InvocationResponse = response.json().await.unwrap();
    let res = body.http_output("res").unwrap().unwrap();
    assert_eq!(res.status, 400);
    assert_eq!(
        res.body.as_deref(),
        Some(&b"there is no item `missing`"[..])
    );
}

/// The JSON protocol carries an HTTP body as text (`HttpOutputBindingResponse.Body` is read
/// from JSON, and `RawScriptResult` writes a string): bytes that are not UTF-8 cannot reach
/// the caller that way, so the invocation fails, naming the way that works.
#[tokio::test]
async fn a_binary_body_over_the_json_protocol_fails_and_says_to_forward() {
    let app = spawn_app().await;
    let response = app
        .invoke_json("picture", &http_envelope("GET", None))
        .await;
    let message = assert_json_error(response, 500, "failed").await;
    assert!(message.contains("enableForwardingHttpRequest"), "{message}");
}

#[tokio::test]
async fn an_unknown_function_gets_a_404_json_error() {
    let app = spawn_app().await;
    let response = app.invoke_json("nope", &http_envelope("POST", None)).await;
    let message = assert_json_error(response, 404, "unknown_function").await;
    assert_eq!(message, "no function named `nope` is declared in this app");
}

#[tokio::test]
async fn function_names_match_ignoring_case() {
    let app = spawn_app().await;
    let response = app
        .invoke("ECHO", corpus_request("http_trigger_with_body.json"))
        .await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn an_invocation_over_the_body_limit_gets_a_413_json_error() {
    let app = spawn(toy_app().invocation_body_limit(1024)).await;
    let big = "x".repeat(2048);
    let response = app
        .invoke_json("echo", &http_envelope("POST", Some(&big)))
        .await;
    let message = assert_json_error(response, 413, "body_too_large").await;
    assert_eq!(
        message,
        "the request body is larger than the limit of 1024 bytes"
    );
}

/// `text` as a body without a `Content-Length`, in chunks of `size` bytes.
fn streamed(text: &str, size: usize) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = text
        .as_bytes()
        .chunks(size)
        .map(|c| Ok(c.to_vec()))
        .collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn an_invocation_streamed_in_chunks_is_read_whole_and_held_to_the_limit() {
    let limit = 4096;
    let app = spawn(toy_app().invocation_body_limit(limit)).await;
    let invocation = |n: usize| http_envelope("POST", Some(&"x".repeat(n))).to_string();
    let short = invocation(1000);
    let at_once: InvocationResponse = app
        .invoke("echo", short.clone())
        .await
        .json()
        .await
        .unwrap();
    for size in [1, 100, 4096] {
        let response = app.invoke("echo", streamed(&short, size)).await;
        assert_eq!(response.status(), 200, "chunks of {size}");
        let streamed: InvocationResponse = response.json().await.unwrap();
        assert_eq!(
            streamed.http_output("res").unwrap(),
            at_once.http_output("res").unwrap(),
            "chunks of {size}"
        );
    }
    let long = invocation(5000);
    for size in [100, 5000] {
        let response = app.invoke("echo", streamed(&long, size)).await;
        let message = assert_json_error(response, 413, "body_too_large").await;
        assert_eq!(
            message,
            "the request body is larger than the limit of 4096 bytes"
        );
    }
}

#[tokio::test]
async fn a_large_batch_fits_in_the_default_limit() {
    let app = spawn_app().await;
    let rows: Vec<Value> = (0..20_000)
        .map(|i| json!({"row": i, "value": 1.5}))
        .collect();
    let text = serde_json::to_string(&rows).unwrap();
    assert!(text.len() > 256 * 1024);
    let response = app
        .invoke_json("echo", &http_envelope("POST", Some(&text)))
        .await;
    let body: InvocationResponse = response.json().await.unwrap();
    let res: HttpResponse = body.http_output("res").unwrap().unwrap();
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn other_methods_and_paths_get_404_json_when_forwarding_is_off() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/api/items/1", app.address))
        .send()
        .await
        .unwrap();
    assert_json_error(response, 404, "not_found").await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_a_json_408_and_the_connection_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn(toy_app().invocation_body_timeout(std::time::Duration::from_millis(500))).await;
    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"Data\"")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("the connection stayed open")
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    let lower = response.to_ascii_lowercase();
    assert!(lower.contains("connection: close"), "{response}");
    assert!(
        lower.contains("content-type: application/json"),
        "{response}"
    );
    let body: Value = serde_json::from_str(response.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["error"]["code"], "body_timeout");
    assert_eq!(
        body["error"]["message"],
        "the request body did not arrive within 0.5 s"
    );
}

/// A body that is not the JSON the function asked for is the caller's mistake: `req.json()?`
/// answers them 400 (inside a completed invocation), never a 500.
#[tokio::test]
async fn a_callers_body_that_is_not_the_expected_json_is_their_400() {
    let app = spawn_app().await;
    let response = app
        .invoke_json("slow", &http_envelope("POST", Some("soon")))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body: InvocationResponse = response.json().await.unwrap();
    let res = body.http_output("res").unwrap().unwrap();
    assert_eq!(res.status, 400);
    let error: Value = serde_json::from_slice(res.body.as_deref().unwrap()).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("the request body is not the expected JSON"),
        "{error}"
    );
}

/// The app's error body cannot turn a failure into a success: the status is always the
/// error's, so the host still fails the invocation and retries its message.
#[tokio::test]
async fn an_error_body_with_the_wrong_status_still_fails_the_invocation() {
    let app =
        spawn(crate::helpers::toy_app().error_body(|e| {
            functions_custom_handler::HttpResponse::new(200).text(e.message.clone())
        }))
        .await;
    let envelope = json!({"Data": {"job": "\"x\""}, "Metadata": {}});
    let response = app.invoke_json("flaky", &envelope).await;
    assert_eq!(response.status().as_u16(), 500);
}
