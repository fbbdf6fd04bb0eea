//! The whole serverless path on one machine: the real handler binary in the deployed
//! layout, under the local host, against Azurite.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use local_host::{Host, HostOptions, RunningHost};
use serde_json::Value;
use storage::{MessageEncoding, Storage, StorageSettings, encode_message};

pub const KEY: &str = "e2e-function-key";
pub const MASTER_KEY: &str = "e2e-master-key";
pub const QUEUE: &str = house_price::jobs::QUEUE;
pub const POISON: &str = "predict-jobs-poison";
pub const UPLOADS_QUEUE: &str = house_price::uploads::QUEUE;
pub const UPLOADS_POISON: &str = "score-uploads-poison";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn azurite() -> String {
    std::env::var("AZURITE_CONNECTION_STRING").unwrap_or_else(|_| {
        panic!(
            "AZURITE_CONNECTION_STRING is not set: these tests need Azurite. Run ./scripts/test.sh, \
             or eval \"$(scripts/azurite.sh start)\" in this shell first"
        )
    })
}

/// The debug handler binary, built once per test process: the workspace's one binary build
/// (`xtask::build_binaries`), which compiles nothing after the test build.
pub fn handler_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        xtask::build_binaries(&repo(), false)
            .unwrap()
            .join("handler")
    })
}

/// A temporary app directory in the deployed layout (the same staging the package uses),
/// with the queue retry delay shortened so retry tests take seconds, not minutes.
pub struct AppDir(PathBuf);

impl AppDir {
    pub fn new() -> AppDir {
        let dir = std::env::temp_dir().join(format!("e2e-app-{}", uuid::Uuid::new_v4()));
        xtask::package::stage_functionapp(&repo(), handler_binary(), &dir).unwrap();
        let host_json = dir.join("host.json");
        let mut host: Value =
            serde_json::from_str(&std::fs::read_to_string(&host_json).unwrap()).unwrap();
        host["extensions"]["queues"]["visibilityTimeout"] = "00:00:01".into();
        host["extensions"]["queues"]["maxPollingInterval"] = "00:00:01".into();
        std::fs::write(&host_json, serde_json::to_vec_pretty(&host).unwrap()).unwrap();
        AppDir(dir)
    }

    /// The app root (where host.json is).
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for AppDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Stack {
    pub host: RunningHost,
    pub storage: Storage,
    pub http: reqwest::Client,
    _app: AppDir,
}

/// Empties the job queues, so a test sees only its own messages. The tests of this binary
/// run one at a time (nextest test group `serverless`), since they share the queue.
pub async fn drain(storage: &Storage, queue: &str) {
    storage.ensure_queue(queue).await.unwrap();
    loop {
        let batch = storage
            .receive_messages(queue, 32, Duration::from_secs(30))
            .await
            .unwrap();
        if batch.is_empty() {
            break;
        }
        for m in batch {
            storage
                .delete_message(queue, &m.id, &m.pop_receipt)
                .await
                .unwrap();
        }
    }
}

pub async fn start() -> Stack {
    start_without(&[]).await
}

/// A stack whose app directory leaves out the function folders named in `left_out`, so the
/// host does not run them (a test can then read what another function queued).
pub async fn start_without(left_out: &[&str]) -> Stack {
    start_on(&azurite(), left_out).await
}

/// [`start_without`] on the storage account of `connection`.
pub async fn start_on(connection: &str, left_out: &[&str]) -> Stack {
    start_with(connection, left_out, local_host::queue::MESSAGE_LEASE).await
}

/// [`start_on`] with queue messages leased for `lease` instead of the host's 10 minutes.
pub async fn start_with(connection: &str, left_out: &[&str], lease: Duration) -> Stack {
    start_configured(connection, left_out, lease, &[]).await
}

/// [`start`] with app settings added (or replaced).
pub async fn start_with_settings(settings: &[(&str, &str)]) -> Stack {
    start_configured(&azurite(), &[], local_host::queue::MESSAGE_LEASE, settings).await
}

async fn start_configured(
    connection: &str,
    left_out: &[&str],
    lease: Duration,
    extra: &[(&str, &str)],
) -> Stack {
    let settings =
        StorageSettings::parse_connection_string("AzureWebJobsStorage", connection).unwrap();
    let storage = Storage::new(&settings).unwrap();
    for queue in [QUEUE, POISON, UPLOADS_QUEUE, UPLOADS_POISON] {
        drain(&storage, queue).await;
    }
    storage.ensure_container("results").await.unwrap();
    storage.ensure_container("job-inputs").await.unwrap();
    let app = AppDir::new();
    for name in left_out {
        std::fs::remove_dir_all(app.0.join(name)).unwrap();
    }
    let mut options = HostOptions::new(app.0.clone())
        .setting("AzureWebJobsStorage", connection)
        .setting("FUNCTIONS_KEY", KEY)
        .setting("FUNCTIONS_MASTER_KEY", MASTER_KEY)
        .setting("HANDLER_TEST_FAULTS", "1")
        // As the infra sets it; tests run housekeeping through the admin API instead.
        .setting("HOUSEKEEPING_SCHEDULE", "0 0 3 * * *")
        .message_lease(lease);
    for (name, value) in extra {
        options = options.setting(*name, *value);
    }
    let host = Host::start(options).await.unwrap();
    Stack {
        host,
        storage,
        http: reqwest::Client::new(),
        _app: app,
    }
}

impl Stack {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.host.url())
    }

    pub async fn submit(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/api/jobs"))
            .header("x-functions-key", KEY)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Calls `/api/predict` with a records body, as a client of the function app would.
    pub async fn predict(&self, rows: &Value) -> Vec<f64> {
        let res = self
            .http
            .post(self.url("/api/predict"))
            .header("x-functions-key", KEY)
            .json(rows)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        serde_json::from_value(body["prediction"].clone()).unwrap()
    }

    /// Polls `job-status` until the job has a result, or panics after `timeout`.
    pub async fn wait_for_result(&self, job_id: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            let res = self
                .http
                .get(self.url(&format!("/api/jobs/{job_id}")))
                .header("x-functions-key", KEY)
                .send()
                .await
                .unwrap();
            match res.status().as_u16() {
                200 => return res.json().await.unwrap(),
                // 404: no result yet. 5xx: the handler is restarting (a test kills it).
                404 | 500..=599 => {}
                other => panic!("job-status answered {other}: {}", res.text().await.unwrap()),
            }
            assert!(
                start.elapsed() < timeout,
                "job {job_id} has no result after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether `queue` has no visible message.
    pub async fn queue_is_empty(&self, queue: &str) -> bool {
        self.storage
            .peek_messages(queue, 32)
            .await
            .unwrap()
            .is_empty()
    }

    /// Waits for the first message of the poison queue, or panics after `timeout`.
    pub async fn wait_for_poison(&self, timeout: Duration) -> storage::PeekedMessage {
        let start = Instant::now();
        loop {
            let peeked = self.storage.peek_messages(POISON, 32).await.unwrap();
            if let Some(m) = peeked.into_iter().next() {
                return m;
            }
            assert!(start.elapsed() < timeout, "nothing reached {POISON}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs `function` now through the host's admin API with `input`; the host answers 202
    /// and runs it in the background.
    pub async fn admin_invoke(&self, function: &str, input: &str) {
        let status = self
            .http
            .post(self.url(&format!("/admin/functions/{function}")))
            .header("x-functions-key", MASTER_KEY)
            .json(&serde_json::json!({ "input": input }))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 202, "admin invoke of {function}");
    }

    /// Delivers Event Grid `events` to `function` at the host's webhook, as Event Grid does;
    /// the host's answer status (202 when every invocation succeeded).
    pub async fn deliver_events(&self, function: &str, events: &Value) -> u16 {
        self.http
            .post(self.url(&format!(
                "/runtime/webhooks/eventgrid?functionName={function}&code={MASTER_KEY}"
            )))
            .header("aeg-event-type", "Notification")
            .json(events)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Puts a message on the job queue the way the Functions host expects it (base64).
    pub async fn enqueue_raw(&self, text: &str) -> String {
        let wire = encode_message(text, MessageEncoding::Base64);
        self.storage.send_message(QUEUE, &wire).await.unwrap();
        wire
    }
}

/// `n` valid rows as a records array, each a little different.
pub fn records(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                serde_json::json!({
                    "CHAS": i % 2, "RM": 5.0 + (i % 30) as f64 / 10.0, "TAX": 296,
                    "PTRATIO": 15.3, "B": 396.9, "LSTAT": 4.98 + (i % 20) as f64
                })
            })
            .collect(),
    )
}

/// A web app on the storage of `connection`, without rate limits (a few clients submit
/// everything); its address, and how to stop it.
pub fn spawn_webapp_on(connection: &str) -> (String, impl FnOnce() + use<>) {
    let settings = webapp::configuration::Settings::from_vars(|name| match name {
        "AzureWebJobsStorage" => Some(connection.to_owned()),
        "PORT" => Some("0".to_owned()),
        "BIND_ADDRESS" => Some("127.0.0.1".to_owned()),
        "WORKERS" => Some("1".to_owned()),
        "JOB_SUBMISSIONS_PER_MINUTE" | "JOB_STATUS_CHECKS_PER_MINUTE" => Some("0".to_owned()),
        _ => None,
    })
    .unwrap();
    let app = webapp::startup::Application::build(settings).unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    (address, move || drop(handle.stop(false)))
}

/// A CSV of `rows` houses, each a little different.
pub fn houses(rows: usize) -> String {
    let mut csv = String::from("CHAS,RM,TAX,PTRATIO,B,LSTAT\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "{},{}.{},296,15.3,396.9,{}\n",
            i % 2,
            5 + i % 3,
            i % 10,
            4 + i % 20
        ));
    }
    csv
}
