//! Toy functions and `spawn_app`: the same `FunctionApp::bind` a handler binary's `main` uses.

use custom_handler::{
    AuthLevel, Function, FunctionApp, HttpResponse, HttpTrigger, Invocation, InvocationError,
    InvocationResponse, service_fn,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::time::Duration;

/// Echoes the request body; an empty body is the caller's mistake, answered with a 400 output.
async fn echo(inv: Invocation) -> Result<InvocationResponse, InvocationError> {
    let req = inv.request().http_trigger("req")?;
    let bytes = req.body_bytes()?;
    if bytes.is_empty() {
        inv.log(log::Level::Warn, "rejected an empty body");
        let res = HttpResponse::new(400)
            .json(&json!({"error": {"code": "empty_body", "message": "send a body to echo"}}))?;
        return Ok(InvocationResponse::http("res", res));
    }
    inv.log(log::Level::Info, format!("echoing {} bytes", bytes.len()));
    let res = HttpResponse::new(200)
        .json(&json!({
            "method": req.method,
            "bytes": bytes.len(),
            "text": String::from_utf8_lossy(&bytes),
            "query": req.query,
            "params": req.params,
            "trace": req.header("x-trace"),
            "invocation": inv.id(),
        }))?
        .header("X-Echo", "yes");
    Ok(InvocationResponse::http("res", res).log("echo done"))
}

#[derive(Deserialize)]
struct Job {
    #[serde(rename = "jobId")]
    job_id: String,
    #[serde(rename = "rowCount")]
    rows: u32,
}

/// Queue-like: reads a JSON job, forwards a message and writes a result document.
async fn work(inv: Invocation) -> Result<InvocationResponse, InvocationError> {
    let job: Job = inv.queue_json("job")?;
    let meta = inv.request().queue_metadata();
    inv.log(
        log::Level::Info,
        format!("job {} attempt {:?}", job.job_id, meta.dequeue_count),
    );
    let result = json!({"jobId": job.job_id, "rows": job.rows, "attempt": meta.dequeue_count});
    Ok(InvocationResponse::new()
        .output("next", vec![format!("done:{}", job.job_id)])
        .output("result", result.to_string()))
}

/// Always fails in a way worth retrying.
async fn flaky(inv: Invocation) -> Result<InvocationResponse, InvocationError> {
    inv.log(log::Level::Info, "trying the dependency");
    Err(InvocationError::transient("the dependency is unavailable")
        .with_source(std::io::Error::other("connection refused")))
}

/// Always fails in a way no retry fixes.
async fn broken(_: Invocation) -> Result<InvocationResponse, InvocationError> {
    Err(InvocationError::permanent("the invariant does not hold"))
}

/// Panics, to show a handler bug cannot take the server down.
async fn panicky(_: Invocation) -> Result<InvocationResponse, InvocationError> {
    let items: Vec<u8> = Vec::new();
    let index = items.len() + 3;
    Ok(InvocationResponse::new().log(format!("{}", items[index])))
}

/// Takes its time, for graceful-shutdown tests.
async fn slow(inv: Invocation) -> Result<InvocationResponse, InvocationError> {
    let ms: u64 = inv.request().http_trigger("req")?.json()?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(InvocationResponse::http(
        "res",
        HttpResponse::new(200).text(format!("slept {ms} ms")),
    ))
}

/// Reads a route parameter and a query parameter (forwardable: HTTP in, HTTP out only).
async fn item(inv: Invocation) -> Result<InvocationResponse, InvocationError> {
    let req = inv.request().http_trigger("req")?;
    let id = req.params.get("id").cloned().unwrap_or_default();
    if id == "missing" {
        return Err(InvocationError::bad_input("there is no item `missing`"));
    }
    let body = json!({"id": id, "query": req.query, "sys": inv.request().sys().method_name});
    Ok(InvocationResponse::http(
        "res",
        HttpResponse::new(200).json(&body)?,
    ))
}

/// HTTP in, HTTP out plus a queue output: never forwardable.
async fn submit(inv: Invocation) -> Result<InvocationResponse, InvocationError> {
    let text = inv.request().http_trigger("req")?.body.unwrap_or_default();
    Ok(InvocationResponse::new()
        .output("res", HttpResponse::new(202).text("queued"))
        .output("msg", text))
}

/// A request body from the shared conformance corpus (`conformance/requests/` at the repo root).
pub fn corpus_request(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance/requests")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `_given` part of a corpus request: what the host was handed.
pub fn corpus_given(name: &str) -> Value {
    serde_json::from_str::<Value>(&corpus_request(name)).unwrap()["_given"].clone()
}

/// The toy app every HTTP test serves.
pub fn toy_app() -> FunctionApp {
    let anonymous = |t: HttpTrigger| t.auth(AuthLevel::Anonymous);
    FunctionApp::new()
        .function(
            Function::new("echo")
                .http_trigger("req", anonymous(HttpTrigger::post("echo")))
                .http_output("res")
                .handler(service_fn(echo)),
        )
        .function(
            Function::new("work")
                .queue_trigger("job", "work-items")
                .queue_output("next", "work-done")
                .blob_output("result", "results/{jobId}.json")
                .handler(service_fn(work)),
        )
        .function(
            Function::new("flaky")
                .queue_trigger("job", "flaky-items")
                .handler(service_fn(flaky)),
        )
        .function(
            Function::new("broken")
                .http_trigger("req", HttpTrigger::post("broken"))
                .http_output("res")
                .handler(service_fn(broken)),
        )
        .function(
            Function::new("panicky")
                .http_trigger("req", HttpTrigger::post("panicky"))
                .http_output("res")
                .handler(service_fn(panicky)),
        )
        .function(
            Function::new("slow")
                .http_trigger("req", HttpTrigger::post("slow"))
                .http_output("res")
                .handler(service_fn(slow)),
        )
        .function(
            Function::new("item")
                .http_trigger("req", anonymous(HttpTrigger::get("items/{id}")))
                .http_output("res")
                .handler(service_fn(item)),
        )
        .function(
            Function::new("submit")
                .http_trigger("req", HttpTrigger::post("submissions"))
                .http_output("res")
                .queue_output("msg", "submissions")
                .handler(service_fn(submit)),
        )
}

/// A running server and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub handle: actix_web::dev::ServerHandle,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestApp {
    /// POSTs `body` to `/{function}` as the host does.
    pub async fn invoke(
        &self,
        function: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}/{function}", self.address))
            .header("Content-Type", "application/json")
            .header(
                "X-Azure-Functions-InvocationId",
                "11111111-2222-3333-4444-555555555555",
            )
            .header("User-Agent", "Azure-Functions-Host/4.0")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Like `invoke`, for a JSON value.
    pub async fn invoke_json(&self, function: &str, body: &Value) -> reqwest::Response {
        self.invoke(function, body.to_string()).await
    }
}

/// Serves `app` on a random loopback port.
pub async fn spawn(app: FunctionApp) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = app.workers(2).bind(listener).unwrap();
    let address = format!("http://127.0.0.1:{}", server.port());
    let handle = server.handle();
    let server = tokio::spawn(server.run());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        handle,
        server,
    }
}

/// The toy app, JSON protocol only.
pub async fn spawn_app() -> TestApp {
    spawn(toy_app()).await
}

/// The toy app with HTTP forwarding on, as with `enableForwardingHttpRequest: true`.
pub async fn spawn_forwarding_app() -> TestApp {
    spawn(toy_app().forward_http_requests(true)).await
}

/// Asserts `response` is `{"error": {"code": code, "message": ...}}` with `status`.
pub async fn assert_json_error(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap().to_string();
    assert!(!message.is_empty());
    message
}

/// A request envelope carrying an HTTP trigger with `body` (absent when `None`).
pub fn http_envelope(method: &str, body: Option<&str>) -> Value {
    let mut req = json!({
        "Url": "http://localhost:7071/api/x",
        "Method": method,
        "Query": {},
        "Headers": {"Content-Type": ["application/json"]},
        "Params": {}
    });
    if let Some(body) = body {
        req["Body"] = json!(body);
    }
    json!({"Data": {"req": req}, "Metadata": {}})
}
