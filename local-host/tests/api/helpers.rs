//! Spawning a host against a copy of a fixture app, with unique queue and container names.

use local_host::{Host, HostOptions, RunningHost};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use storage::{Storage, StorageSettings};
use tempfile::TempDir;

/// The Azurite connection string; the tests need a real storage emulator.
pub fn azurite() -> String {
    std::env::var("AZURITE_CONNECTION_STRING").unwrap_or_else(|_| {
        panic!(
            "AZURITE_CONNECTION_STRING is not set: start Azurite with `eval \"$(scripts/azurite.sh start)\"` \
             (or run `scripts/azurite.sh run -- cargo test -p local-host`)"
        )
    })
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Copies fixture `name` into a temporary directory and puts the test handler in it as
/// `handler`, the way a deployment puts the built executable next to host.json.
pub fn app_copy(name: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(name), dir.path());
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_test-echo-handler"),
        dir.path().join("handler"),
    )
    .unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Queue and container names no other test uses.
#[derive(Debug, Clone)]
pub struct Names {
    pub jobs: String,
    pub out: String,
    pub record: String,
    pub results: String,
    pub inputs: String,
}

impl Names {
    pub fn unique() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let short = &id[..12];
        Self {
            jobs: format!("jobs-{short}"),
            out: format!("out-{short}"),
            record: format!("record-{short}"),
            results: format!("results-{short}"),
            inputs: format!("inputs-{short}"),
        }
    }
}

pub struct TestApp {
    pub host: RunningHost,
    pub names: Names,
    pub storage: Storage,
    pub client: reqwest::Client,
    _dir: TempDir,
}

impl TestApp {
    /// The app directory the host runs.
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.host.url())
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// POSTs `{"messages": messages}` to the fixtures' `enqueue` function, whose handler puts
    /// `messages` in its queue output as it is.
    pub async fn enqueue(&self, messages: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/enqueue"))
            .json(&serde_json::json!({ "messages": messages }))
            .send()
            .await
            .unwrap()
    }

    pub async fn stop(self) {
        self.host.stop().await;
    }

    /// The invocations a recording fixture function (`tick`, `record`, `grid`) wrote to the
    /// results container under `prefix`, once there are at least `n`.
    pub async fn recorded(&self, prefix: &str, n: usize) -> Vec<serde_json::Value> {
        let results = self.names.results.clone();
        let names = self
            .eventually(prefix, Duration::from_secs(10), || {
                let (storage, results) = (self.storage.clone(), results.clone());
                async move {
                    let names = storage.list_blobs(&results, Some(prefix)).await.ok()?;
                    (names.len() >= n).then_some(names)
                }
            })
            .await;
        let mut requests = Vec::new();
        for name in names {
            let blob = self
                .storage
                .get_blob(&results, &name)
                .await
                .unwrap()
                .unwrap();
            let record: serde_json::Value = serde_json::from_slice(&blob).unwrap();
            requests.push(record["request"].clone());
        }
        requests
    }

    /// Polls `check` until it returns `Some`, failing with `what` after `timeout`.
    pub async fn eventually<T, F, Fut>(&self, what: &str, timeout: Duration, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub fn options(fixture_name: &str, dir: &TempDir, names: &Names) -> HostOptions {
    let _ = env_logger::builder().is_test(true).try_init();
    HostOptions::new(dir.path())
        .setting("AzureWebJobsStorage", azurite())
        .setting("JOBS_QUEUE", &names.jobs)
        .setting("OUT_QUEUE", &names.out)
        .setting("RECORD_QUEUE", &names.record)
        .setting("RESULTS_CONTAINER", &names.results)
        .setting("INPUT_CONTAINER", &names.inputs)
        .setting("FIXTURE", fixture_name)
}

pub async fn spawn_app(fixture_name: &str) -> TestApp {
    spawn_with(fixture_name, |o| o).await
}

pub async fn spawn_with(
    fixture_name: &str,
    customize: impl FnOnce(HostOptions) -> HostOptions,
) -> TestApp {
    let dir = app_copy(fixture_name);
    let names = Names::unique();
    let options = customize(options(fixture_name, &dir, &names));
    let host = Host::start(options).await.unwrap();
    let storage = Storage::new(
        &StorageSettings::parse_connection_string("AZURITE_CONNECTION_STRING", &azurite()).unwrap(),
    )
    .unwrap();
    TestApp {
        host,
        names,
        storage,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _dir: dir,
    }
}
