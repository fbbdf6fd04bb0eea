//! Spawning the app exactly as the binary builds it, and typed request helpers.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use house_price::jobs::QUEUE;
use serde_json::{Value, json};
use storage::{MessageEncoding, Storage, StorageSettings, decode_message};
use webapp::configuration::{STORAGE_PREFIX, Settings};
use webapp::startup::Application;

/// The original client's request: a pandas DataFrame of the first data row, `to_json()`.
pub const ORIGINAL_CLIENT_PAYLOAD: &str = include_str!("../data/original_client_payload.json");
/// The first three rows of the Boston data, as CSV with a header row.
pub const THREE_HOUSES_CSV: &str = include_str!("../data/three_houses.csv");
/// The first data row as one record (true MEDV 24.0).
pub const FIRST_ROW: &str =
    r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#;
/// The third data row as one record: a different house with a different price.
pub const THIRD_ROW: &str =
    r#"{"CHAS":0,"RM":7.185,"TAX":242,"PTRATIO":17.8,"B":392.83,"LSTAT":4.03}"#;

/// A running app on a free loopback port; stopped when dropped.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// A client that keeps connections alive, like a real one.
    pub client: reqwest::Client,
    handle: ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for it.
        drop(self.handle.stop(false));
    }
}

/// Spawns the app with the default settings, on loopback and port 0.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app with settings adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = Settings {
        bind_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 0,
        workers: Some(1),
        ..Settings::default()
    };
    adjust(&mut settings);
    let app = Application::build(settings).expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        handle,
    }
}

/// Azurite's connection string, from `scripts/azurite.sh`. Tests that need storage fail,
/// never skip, without it.
pub fn azurite() -> String {
    std::env::var("AZURITE_CONNECTION_STRING")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "AZURITE_CONNECTION_STRING is not set: these tests need Azurite. Run them with \
                 scripts/azurite.sh run -- cargo nextest run -p webapp, or eval \"$(scripts/azurite.sh start)\" \
                 in this shell first"
            )
        })
}

/// Azurite's settings, as the app reads them from `AzureWebJobsStorage`.
pub fn azurite_settings() -> StorageSettings {
    StorageSettings::parse_connection_string(STORAGE_PREFIX, &azurite()).unwrap()
}

/// A client of the same Azurite the app uses, to look behind the API.
pub fn azurite_storage() -> Storage {
    Storage::new(&azurite_settings()).unwrap()
}

/// Spawns the app with background jobs on Azurite.
pub async fn spawn_app_with_azurite() -> TestApp {
    let settings = azurite_settings();
    spawn_app_with(|s| s.storage = Some(settings)).await
}

/// `n` valid rows as a records array, each a little different.
pub fn records(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                json!({
                    "CHAS": i % 2, "RM": 5.0 + (i % 30) as f64 / 10.0, "TAX": 296,
                    "PTRATIO": 15.3, "B": 396.9, "LSTAT": 4.98 + (i % 20) as f64
                })
            })
            .collect(),
    )
}

/// The decoded JSON of the message for `job_id` on the job queue, found among the visible
/// messages by its `jobId` (other tests share the queue), with the text as it is on the wire.
pub async fn queued_message(storage: &Storage, job_id: &str) -> (String, Value) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for message in storage.peek_messages(QUEUE, 32).await.unwrap() {
            let Ok(text) = decode_message(&message.text, MessageEncoding::Base64) else {
                continue;
            };
            if let Ok(json) = serde_json::from_str::<Value>(&text)
                && json["jobId"] == job_id
            {
                return (message.text, json);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no base64 message for job {job_id} among the first 32 on queue {QUEUE}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Takes the message for `job_id` off the job queue and returns its decoded text, so tests
/// leave the shared queue as they found it. Other tests' messages are made visible again at once.
pub async fn take_message(storage: &Storage, job_id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut mine = None;
        for message in storage
            .receive_messages(QUEUE, 32, Duration::from_secs(30))
            .await
            .unwrap()
        {
            let text = decode_message(&message.text, MessageEncoding::Base64).unwrap_or_default();
            let is_mine =
                serde_json::from_str::<Value>(&text).is_ok_and(|json| json["jobId"] == job_id);
            if is_mine {
                storage
                    .delete_message(QUEUE, &message.id, &message.pop_receipt)
                    .await
                    .unwrap();
                mine = Some(text);
            } else {
                // Gone already (its owner took it) is fine.
                let _ = storage
                    .update_visibility(QUEUE, &message.id, &message.pop_receipt, Duration::ZERO)
                    .await;
            }
        }
        if let Some(text) = mine {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no message for job {job_id} could be taken off queue {QUEUE}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl TestApp {
    /// `POST /jobs` with the given content type.
    pub async fn post_job(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}/jobs", self.address))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("the request is answered")
    }

    /// Submits a job that must be accepted; returns its id.
    pub async fn submit_job(&self, content_type: &str, body: impl Into<reqwest::Body>) -> String {
        let response = self.post_job(content_type, body).await;
        assert_eq!(response.status(), 202, "the job was refused");
        let accepted: Value = response.json().await.unwrap();
        accepted["jobId"].as_str().expect("a jobId").to_owned()
    }

    /// `POST /predict` with the given content type (none when `None`).
    pub async fn post_predict(
        &self,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/predict", self.address))
            .body(body);
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        request.send().await.expect("the request is answered")
    }

    /// `POST /predict` with a JSON body.
    pub async fn post_json(&self, body: &str) -> reqwest::Response {
        self.post_predict(Some("application/json"), body.to_owned())
            .await
    }

    /// The predictions for a JSON body that must succeed.
    pub async fn predictions(&self, body: &str) -> Vec<f64> {
        let response = self.post_json(body).await;
        assert_eq!(response.status(), 200, "{body} was refused");
        let json: Value = response.json().await.unwrap();
        json["prediction"]
            .as_array()
            .expect("a prediction array")
            .iter()
            .map(|v| v.as_f64().expect("a number"))
            .collect()
    }

    /// A request with any method to a path.
    pub async fn request(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.client
            .request(method, format!("{}{path}", self.address))
            .send()
            .await
            .expect("the request is answered")
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path).await
    }
}

/// Checks a response is the API's JSON error with this status and code, and returns its message.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status().as_u16(), status, "wrong status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/json");
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], code, "wrong code in {body}");
    let message = body["error"]["message"]
        .as_str()
        .expect("a message")
        .to_owned();
    assert!(!message.is_empty());
    message
}

/// A port that was free a moment ago, for processes that bind it themselves.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The web app binary as its own process on `port` (one worker, the embedded model), its
/// stdout piped or dropped; it listens once this returns.
pub fn spawn_webapp_process(port: u16, stdout: std::process::Stdio) -> std::process::Child {
    spawn_webapp_process_with(
        port,
        stdout,
        std::process::Command::new(env!("CARGO_BIN_EXE_webapp")),
    )
}

/// [`spawn_webapp_process`] with a command the caller has set more on (variables, limits).
pub fn spawn_webapp_process_with(
    port: u16,
    stdout: std::process::Stdio,
    mut command: std::process::Command,
) -> std::process::Child {
    let child = command
        .env("PORT", port.to_string())
        .env("BIND_ADDRESS", "127.0.0.1")
        .env("WORKERS", "1")
        .env_remove("MODEL_PATH")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, Duration::from_secs(10));
    child
}

/// Waits until something accepts connections on the loopback port.
pub fn wait_for_port(port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listened on port {port} within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A new, empty directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Thousands-of-dollars as the page shows them: `$24,000`.
pub fn dollars(thousands: f64) -> String {
    let whole = (thousands * 1000.0).round() as i64;
    let digits = whole.abs().to_string();
    let mut out = String::from(if whole < 0 { "-$" } else { "$" });
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}
