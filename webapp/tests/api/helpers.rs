//! Spawning the app exactly as the binary builds it, and typed request helpers.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use serde_json::Value;
use webapp::configuration::Settings;
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

impl TestApp {
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
