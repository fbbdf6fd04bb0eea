//! Toy functions and `spawn_app`: the same `FunctionApp::bind` a handler binary's `main` uses.

use functions_custom_handler::bindings::{
    AuthLevel, BlobOutput, HttpOutput, HttpTrigger, QueueOutput, QueueTrigger,
};
use functions_custom_handler::{
    Function, FunctionApp, HttpError, HttpResponse, Invocation, InvocationError, Json, Outputs,
    service_fn,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::time::Duration;

pub const ECHO: HttpTrigger = HttpTrigger::post("req", "echo").auth(AuthLevel::Anonymous);
pub const RES: HttpOutput = HttpOutput::new("res");
pub const JOB: QueueTrigger = QueueTrigger::new("job", "work-items");
pub const NEXT: QueueOutput = QueueOutput::new("next", "work-done");
pub const RESULT: BlobOutput = BlobOutput::new("result", "results/{jobId}.json");
const FLAKY: QueueTrigger = QueueTrigger::new("job", "flaky-items");
const BROKEN: HttpTrigger = HttpTrigger::post("req", "broken");
const PANICKY: HttpTrigger = HttpTrigger::post("req", "panicky");
const SLOW: HttpTrigger = HttpTrigger::post("req", "slow");
const ITEM: HttpTrigger = HttpTrigger::get("req", "items/{id}").auth(AuthLevel::Anonymous);
const SUBMIT: HttpTrigger = HttpTrigger::post("req", "submissions");
const MSG: QueueOutput = QueueOutput::new("msg", "submissions");
const PICTURE: HttpTrigger = HttpTrigger::get("req", "picture").auth(AuthLevel::Anonymous);
/// A declaration no toy function has: reading it is a binding the declaration lacks.
const TYPO: HttpTrigger = HttpTrigger::post("request", "typo");

/// Echoes the request body; an empty body is the caller's mistake, answered with a 400 output.
async fn echo(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let req = inv.trigger(&ECHO)?;
    if req.body.is_empty() {
        inv.log(log::Level::Warn, "rejected an empty body");
        let res = HttpResponse::new(400)
            .json(&json!({"error": {"code": "empty_body", "message": "send a body to echo"}}))?;
        return Ok(Outputs::new().set(&RES, res));
    }
    inv.log(
        log::Level::Info,
        format!("echoing {} bytes", req.body.len()),
    );
    let res = HttpResponse::new(200)
        .json(&json!({
            "method": req.method,
            "bytes": req.body.len(),
            "text": String::from_utf8_lossy(&req.body),
            "query": req.query,
            "params": req.params,
            "trace": req.header("x-trace"),
            "invocation": inv.id(),
        }))?
        .header("X-Echo", "yes");
    inv.log(log::Level::Info, "echo done");
    Ok(Outputs::new().set(&RES, res))
}

#[derive(Deserialize)]
struct Job {
    #[serde(rename = "jobId")]
    job_id: String,
    #[serde(rename = "rowCount")]
    rows: u32,
}

/// Queue-like: reads a JSON job, forwards a message and writes a result document.
async fn work(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let message = inv.trigger(&JOB)?;
    let job: Job = message.json()?;
    inv.log(
        log::Level::Info,
        format!("job {} attempt {:?}", job.job_id, message.dequeue_count),
    );
    let result = json!({"jobId": job.job_id, "rows": job.rows, "attempt": message.dequeue_count});
    Ok(Outputs::new()
        .set(&NEXT, format!("done:{}", job.job_id))
        .set(&RESULT, Json(result)))
}

/// Always fails in a way worth retrying.
async fn flaky(inv: Invocation) -> Result<Outputs, InvocationError> {
    inv.log(log::Level::Info, "trying the dependency");
    Err(InvocationError::transient("the dependency is unavailable")
        .with_source(std::io::Error::other("connection refused")))
}

/// Always fails in a way no retry fixes.
async fn broken(_: Invocation) -> Result<Outputs, InvocationError> {
    Err(InvocationError::permanent("the invariant does not hold"))
}

/// Panics, to show a handler bug cannot take the server down.
async fn panicky(inv: Invocation) -> Result<Outputs, InvocationError> {
    let items: Vec<u8> = Vec::new();
    let index = items.len() + 3;
    inv.log(log::Level::Info, items[index]);
    Ok(Outputs::new())
}

/// Takes its time, for graceful-shutdown tests.
async fn slow(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let ms: u64 = inv.trigger(&SLOW)?.json()?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(Outputs::new().set(&RES, HttpResponse::new(200).text(format!("slept {ms} ms"))))
}

/// Reads a route parameter and a query parameter (forwardable: HTTP in, HTTP out only).
async fn item(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let req = inv.trigger(&ITEM)?;
    let id = req.params.get("id").cloned().unwrap_or_default();
    if id == "missing" {
        return Err(InvocationError::bad_input("there is no item `missing`"));
    }
    let body = json!({"id": id, "query": req.query, "sys": inv.sys().method_name});
    Ok(Outputs::new().set(&RES, HttpResponse::new(200).json(&body)?))
}

/// HTTP in, HTTP out plus a queue output: never forwardable.
async fn submit(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let text = inv.trigger(&SUBMIT)?.body;
    Ok(Outputs::new()
        .set(&RES, HttpResponse::new(202).text("queued"))
        .set(&MSG, text))
}

/// The bytes of a tiny PNG, which are not UTF-8.
pub const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d,
];

/// A binary response: only a forwarded function can send it.
async fn picture(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    inv.trigger(&PICTURE)?;
    Ok(Outputs::new().set(&RES, HttpResponse::new(200).bytes("image/png", PNG)))
}

/// Reads a trigger its declaration lacks: the typo the typed declarations make a compile
/// error, here through a declaration of another function.
async fn typo(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let req = inv.trigger(&TYPO)?;
    Ok(Outputs::new().set(&RES, HttpResponse::new(200).bytes("text/plain", req.body)))
}

/// The JSON error body the toy app chooses for what the runtime answers itself.
pub fn json_error_body(e: &HttpError) -> HttpResponse {
    HttpResponse::new(e.status)
        .json(&json!({"error": {"code": e.code, "message": e.message}}))
        .unwrap()
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

/// The toy app every HTTP test serves, with JSON error bodies.
pub fn toy_app() -> FunctionApp {
    plain_toy_app().error_body(json_error_body)
}

/// The toy app with the runtime's default, plain error bodies.
pub fn plain_toy_app() -> FunctionApp {
    let http = |name: &str, trigger: HttpTrigger| Function::new(name).trigger(trigger).output(RES);
    FunctionApp::new()
        .function(http("echo", ECHO).handler(service_fn(echo)))
        .function(
            Function::new("work")
                .trigger(JOB)
                .output(NEXT)
                .output(RESULT)
                .handler(service_fn(work)),
        )
        .function(
            Function::new("flaky")
                .trigger(FLAKY)
                .handler(service_fn(flaky)),
        )
        .function(http("broken", BROKEN).handler(service_fn(broken)))
        .function(http("panicky", PANICKY).handler(service_fn(panicky)))
        .function(http("slow", SLOW).handler(service_fn(slow)))
        .function(http("item", ITEM).handler(service_fn(item)))
        .function(
            http("submit", SUBMIT)
                .output(MSG)
                .handler(service_fn(submit)),
        )
        .function(http("picture", PICTURE).handler(service_fn(picture)))
        .function(http("typo", HttpTrigger::post("req", "typo")).handler(service_fn(typo)))
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
