//! Spawning the real app (`house_price_functions::app`, bound like `main` binds it) and reading its answers.

use std::net::TcpListener;

use functions_custom_handler::FunctionApp;
use functions_custom_handler::testing::{Event, TestClient};
use house_price::Model;
use house_price::api::{self, Limits};
use house_price_functions::State;
use serde_json::Value;

/// The header the host puts on every invocation.
pub const INVOCATION_ID: &str = "X-Azure-Functions-InvocationId";

/// Loads a fixture from `tests/data/` at compile time.
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/", $name))
    };
}
pub(crate) use fixture;

/// The original client's request body: a pandas DataFrame of the first data row, `to_json()`.
pub const ORIGINAL_CLIENT_PAYLOAD: &str = r#"{"CHAS":{"0":0},"RM":{"0":6.575},"TAX":{"0":296.0},"PTRATIO":{"0":15.3},"B":{"0":396.9},"LSTAT":{"0":4.98}}"#;
/// The first data row as one record (true MEDV 24.0).
pub const FIRST_ROW: &str =
    r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#;
/// The first data row as a CSV line, after the header.
pub const CSV_HEADER: &str = "CHAS,RM,TAX,PTRATIO,B,LSTAT\n";
/// The first data row as a CSV line.
pub const CSV_FIRST_ROW: &str = "0,6.575,296,15.3,396.9,4.98\n";

/// The app in the runtime's test client, for invocations, and served on loopback, for what
/// only a server shows (raw bodies, forwarding, readiness); the server stops when this is
/// dropped.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// A keep-alive client, like the host's.
    pub client: reqwest::Client,
    /// The same app, in process.
    pub functions: TestClient,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// The state the binary builds when no storage is configured, with the embedded model.
pub fn state() -> State {
    State::new(Model::embedded().unwrap())
}

/// Storage on Azurite (`AZURITE_CONNECTION_STRING`, set by `scripts/azurite.sh`); the tests
/// that need it fail, never skip, without it.
pub fn azurite_storage() -> storage::Storage {
    let connection = std::env::var("AZURITE_CONNECTION_STRING").unwrap_or_else(|_| {
        panic!("AZURITE_CONNECTION_STRING is not set: run the tests with scripts/azurite.sh run -- cargo nextest run -p house-price-functions")
    });
    let settings =
        storage::StorageSettings::parse_connection_string("AZURITE_CONNECTION_STRING", &connection)
            .unwrap();
    storage::Storage::new(&settings).unwrap()
}

/// The embedded model, for computing the answers the handler must give.
pub fn model() -> Model {
    Model::embedded().unwrap()
}

/// Serves `app` on a random loopback port with the runtime's `bind`, as `main` does, and
/// holds it in a test client.
pub async fn spawn(app: FunctionApp) -> TestApp {
    let functions = TestClient::new(app.clone()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = app.workers(2).bind(listener).unwrap();
    let address = format!("http://127.0.0.1:{}", server.port());
    let handle = server.handle();
    tokio::spawn(server.run());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        functions,
        handle,
    }
}

/// The handler app with no storage, JSON protocol only.
pub async fn spawn_app() -> TestApp {
    spawn(house_price_functions::app(state())).await
}

/// What the handler answered the host.
pub struct Invoked {
    /// The host-facing HTTP status.
    pub status: u16,
    /// The host-facing body, parsed.
    pub body: Value,
}

impl Invoked {
    /// `Outputs.<name>`, which must be present.
    pub fn output(&self, name: &str) -> &Value {
        let value = &self.body["Outputs"][name];
        assert!(!value.is_null(), "no output `{name}` in {}", self.body);
        value
    }

    /// `Outputs.<name>` as the bytes the host writes: the runtime sends exact outputs as
    /// base64, which the host decodes (HttpScriptInvocationResultExtensions.cs, GetBindingValue).
    pub fn output_bytes(&self, name: &str) -> Vec<u8> {
        let Value::String(encoded) = self.output(name) else {
            panic!("the output `{name}` must be a base64 string: {}", self.body);
        };
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
            .unwrap_or_else(|e| panic!("the output `{name}` is not base64 ({e}): {encoded}"))
    }

    /// `Outputs.<name>` as the UTF-8 text the host writes.
    pub fn output_text(&self, name: &str) -> String {
        String::from_utf8(self.output_bytes(name)).unwrap()
    }

    /// Whether `Outputs.<name>` is present at all.
    pub fn has_output(&self, name: &str) -> bool {
        self.body["Outputs"]
            .as_object()
            .is_some_and(|o| o.contains_key(name))
    }

    /// The `http` output `res`: status (sent as a string), headers and body text.
    pub fn res(&self) -> HttpOut {
        let res = self.output("res");
        let status = res["statusCode"]
            .as_str()
            .unwrap_or_else(|| panic!("statusCode is not a string in {res}"))
            .parse()
            .unwrap();
        HttpOut {
            status,
            content_type: res["headers"]["Content-Type"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            body: res["body"].as_str().unwrap_or_default().to_string(),
            retry_after: res["headers"]["Retry-After"].as_str().map(str::to_owned),
        }
    }

    /// The `Logs` lines.
    pub fn logs(&self) -> Vec<String> {
        self.body["Logs"]
            .as_array()
            .unwrap_or_else(|| panic!("Logs is not an array in {}", self.body))
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect()
    }

    /// Asserts the host got a 2xx with exactly the protocol's three keys and no return value.
    pub fn assert_completed(&self) {
        assert!(
            (200..300).contains(&self.status),
            "the host must get a 2xx, got {}: {}",
            self.status,
            self.body
        );
        let keys: Vec<&String> = self.body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Logs", "Outputs", "ReturnValue"], "{}", self.body);
        assert!(self.body["ReturnValue"].is_null(), "{}", self.body);
    }
}

/// An `http` output as the caller will receive it.
#[derive(Debug)]
pub struct HttpOut {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    pub retry_after: Option<String>,
}

impl HttpOut {
    /// The body parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {}", self.body))
    }

    /// Asserts a JSON error body `{"error":{"code","message"}}` with `status` and `code`,
    /// and returns the message.
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.content_type, "application/json");
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "{body}");
        let message = body["error"]["message"].as_str().unwrap().to_string();
        assert!(!message.is_empty());
        message
    }
}

impl TestApp {
    /// POSTs raw `body` to `/{function}` as the host does.
    pub async fn post(&self, function: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(format!("{}/{function}", self.address))
            .header("Content-Type", "application/json")
            .header(INVOCATION_ID, "6a1e53c2-4c1b-4f0e-9d8e-1c2b3a4d5e6f")
            .header("X-Azure-Functions-HostVersion", "4.834.3.22875")
            .header("User-Agent", "Azure-Functions-Host/4.834.3.22875")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Invokes `function` with `envelope` through the runtime's test client and reads the
    /// host-facing answer.
    pub async fn invoke(&self, function: &str, envelope: impl AsRef<[u8]>) -> Invoked {
        let event = Event::from_slice(envelope.as_ref()).unwrap();
        let invoked = self.functions.invoke(function, event).await;
        let (status, body) = invoked.host_answer();
        Invoked {
            status,
            body: body.clone(),
        }
    }

    /// Invokes `function` with a parsed envelope.
    pub async fn invoke_json(&self, function: &str, envelope: &Value) -> Invoked {
        self.invoke(function, envelope.to_string()).await
    }

    /// `GET /`, as the host polls for readiness.
    pub async fn ready(&self) -> reqwest::Response {
        self.client
            .get(format!("{}/", self.address))
            .send()
            .await
            .unwrap()
    }
}

/// Parses a fixture.
pub fn parse(fixture: &str) -> Value {
    serde_json::from_str(fixture).unwrap()
}

/// A Core Tools `predict` invocation with `body` (no `Body` key when `None`) and content type.
pub fn predict_envelope(content_type: Option<&str>, body: Option<&str>) -> Value {
    let mut envelope = parse(fixture!("predict_original_client_core_tools.json"));
    let req = &mut envelope["Data"]["req"];
    let headers = req["Headers"].as_object_mut().unwrap();
    headers.remove("Content-Type");
    if let Some(content_type) = content_type {
        headers.insert("Content-Type".into(), serde_json::json!([content_type]));
    }
    let length = body.map_or(0, str::len).to_string();
    headers.insert("Content-Length".into(), serde_json::json!([length]));
    let req = req.as_object_mut().unwrap();
    req.remove("Body");
    if let Some(body) = body {
        req.insert("Body".into(), Value::String(body.to_string()));
    }
    envelope
}

/// A Core Tools `submit-job` invocation with a JSON `body`.
pub fn submit_envelope(content_type: Option<&str>, body: Option<&str>) -> Value {
    let mut envelope = predict_envelope(content_type, body);
    envelope["Data"]["req"]["Url"] = "http://localhost:7071/api/jobs".into();
    envelope["Metadata"]["sys"]["MethodName"] = "submit-job".into();
    envelope
}

/// A Core Tools queue invocation of `score-job` carrying `message` double-encoded.
pub fn score_envelope(message: &str) -> Value {
    let mut envelope = parse(fixture!("score_job_message_core_tools.json"));
    envelope["Data"]["job"] = Value::String(serde_json::to_string(message).unwrap());
    envelope["Metadata"]
        .as_object_mut()
        .unwrap()
        .remove("jobId");
    envelope
}

/// What the web app answers for the same input: `house_price::api::predict` with its limits.
pub fn expected_predict(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<api::Reply, api::ApiError> {
    api::predict(&model(), &Limits::default(), content_type, body)
}

/// `n` records cycling through the first three Boston rows, as a JSON array.
pub fn records(n: usize) -> String {
    const ROWS: [&str; 3] = [
        FIRST_ROW,
        r#"{"CHAS":0,"RM":6.421,"TAX":242,"PTRATIO":17.8,"B":396.9,"LSTAT":9.14}"#,
        r#"{"CHAS":0,"RM":7.185,"TAX":242,"PTRATIO":17.8,"B":392.83,"LSTAT":4.03}"#,
    ];
    let items: Vec<&str> = ROWS.iter().copied().cycle().take(n).collect();
    format!("[{}]", items.join(","))
}
