//! Many instances on one storage account, as Azure runs the function app (Flex Consumption
//! scales out to the app's maximum instance count) and can run the web app: two local hosts,
//! each a process with its own handler, and two web apps, all on one Azurite.
//!
//! - housekeeping fired on both instances at once: no error, no blob deleted twice, each
//!   poison message drained once;
//! - 1,000 jobs submitted across both web apps and 50 uploads: each job gets its result and
//!   each upload version one result, never seen half written;
//! - one instance killed (SIGKILL, handler and all) mid-run: its in-flight messages reappear
//!   when their lease ends (shortened to seconds with `LOCALHOST_MESSAGE_LEASE`) and the
//!   other instance finishes them. Nothing is lost.

use std::collections::{HashMap, HashSet};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use storage::{MessageEncoding, Storage, encode_message};

use crate::helpers::{
    AppDir, KEY, MASTER_KEY, POISON, QUEUE, UPLOADS_POISON, UPLOADS_QUEUE, azurite, drain, houses,
    records, repo, spawn_webapp_on,
};

const JOBS: usize = 1_000;
const UPLOADS: usize = 50;
/// How long a received message stays leased: a killed instance's messages come back after it.
const LEASE_SECS: u64 = 8;

/// A local host process (with its handler) of its own process group, so a kill takes both.
struct Instance {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
    _app: AppDir,
}

impl Instance {
    fn start(name: &str, retention: &str) -> Instance {
        let app = AppDir::new();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!(
            "instance-{name}-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let out = std::fs::File::create(&log).unwrap();
        let binary = xtask::build_binaries(&repo(), false)
            .unwrap()
            .join("local-host");
        let child = Command::new(binary)
            .args(["start", "--port", &port.to_string(), "--app-dir"])
            .arg(app.path())
            .env("AzureWebJobsStorage", azurite())
            .env("FUNCTIONS_KEY", KEY)
            .env("FUNCTIONS_MASTER_KEY", MASTER_KEY)
            .env("HOUSEKEEPING_SCHEDULE", "0 0 3 * * *")
            .env("HOUSEKEEPING_RETENTION", retention)
            .env("LOCALHOST_MESSAGE_LEASE", LEASE_SECS.to_string())
            .env("LOCALHOST_BLOB_EVENTS", "queue-upload=uploads")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap();
        let instance = Instance {
            child: Some(child),
            port,
            log,
            _app: app,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "instance {name} did not start: {}",
                instance.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        instance
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL to the whole group: the local host and its handler die at once, as an
    /// instance that is taken away does.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// POSTs until the answer is `accepted`, with the same idempotency key each time (a 503 or
/// a lost connection is tried again a moment later); the answer's JSON.
async fn post_until(
    http: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: String,
    accepted: u16,
) -> Value {
    let key = uuid::Uuid::new_v4().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let response = http
            .post(url)
            .header("Content-Type", content_type)
            .header("Idempotency-Key", &key)
            .body(body.clone())
            .send()
            .await;
        match response {
            Ok(r) if r.status().as_u16() == accepted => return r.json().await.unwrap(),
            Ok(r) if r.status() == 503 => {}
            Ok(r) => panic!(
                "POST {url} answered {}: {}",
                r.status(),
                r.text().await.unwrap()
            ),
            Err(_) => {}
        }
        assert!(Instant::now() < deadline, "POST {url} was never accepted");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The `[housekeeping <id>] housekeeping: deleted N ... moved M ...` reports in a log, once
/// each (the handler and the host both print it): (deleted, moved) per invocation.
fn housekeeping_reports(log: &str) -> Vec<(usize, usize)> {
    let mut seen = HashSet::new();
    let mut reports = Vec::new();
    for line in log.lines() {
        let Some(at) = line.find("[housekeeping ") else {
            continue;
        };
        let rest = &line[at + "[housekeeping ".len()..];
        let Some((id, rest)) = rest.split_once(']') else {
            continue;
        };
        let Some((_, text)) = rest.split_once("housekeeping: deleted ") else {
            continue;
        };
        if !seen.insert(id.to_owned()) {
            continue;
        }
        let number = |text: &str| -> usize { text.split(' ').next().unwrap().parse().unwrap() };
        let moved = text.split("moved ").nth(1).unwrap();
        reports.push((number(text), number(moved)));
    }
    reports
}

/// The end of a log, for a failure message.
fn tail(log: &str) -> &str {
    let mut start = log.len().saturating_sub(4000);
    while !log.is_char_boundary(start) {
        start += 1;
    }
    &log[start..]
}

/// Every blob of the containers housekeeping sweeps.
async fn swept_blobs(storage: &Storage) -> HashSet<(String, String)> {
    let mut blobs = HashSet::new();
    for container in ["results", "job-inputs", "uploads", "locks"] {
        if let Ok(names) = storage.list_blobs(container, None).await {
            blobs.extend(names.into_iter().map(|n| (container.to_owned(), n)));
        }
    }
    blobs
}

async fn housekeeping_on_both_at_once(
    storage: &Storage,
    http: &reqwest::Client,
    a: &Instance,
    b: &Instance,
) {
    // Poison messages of both queues, as the host leaves them.
    let mut poisoned = Vec::new();
    for queue in [POISON, UPLOADS_POISON] {
        for n in 0..3 {
            let text = format!("{{\"poisoned\":{n},\"queue\":\"{queue}\"}}");
            let sent = storage
                .send_message(queue, &encode_message(&text, MessageEncoding::Base64))
                .await
                .unwrap();
            poisoned.push(sent.id);
        }
    }
    // Blobs older than the instances' 5 s retention: what earlier tests left, and these.
    storage.ensure_container("results").await.unwrap();
    for n in 0..20 {
        storage
            .put_blob(
                "results",
                &format!("old-{n}-{}.json", uuid::Uuid::new_v4()),
                b"{}".to_vec(),
                "application/json",
            )
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    let before = swept_blobs(storage).await;
    let fire = |instance: &Instance| {
        http.post(instance.url("/admin/functions/housekeeping"))
            .header("x-functions-key", MASTER_KEY)
            .json(&serde_json::json!({"input": ""}))
            .send()
    };
    let (fa, fb) = tokio::join!(fire(a), fire(b));
    assert_eq!(fa.unwrap().status(), 202);
    assert_eq!(fb.unwrap().status(), 202);
    let deadline = Instant::now() + Duration::from_secs(60);
    let reports = loop {
        let reports: Vec<(usize, usize)> = [a, b]
            .iter()
            .flat_map(|i| housekeeping_reports(&i.log_text()))
            .collect();
        if reports.len() == 2 {
            break reports;
        }
        assert!(
            Instant::now() < deadline,
            "housekeeping did not report twice: {reports:?}\n{}\n{}",
            tail(&a.log_text()),
            tail(&b.log_text())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for instance in [a, b] {
        let log = instance.log_text();
        assert!(
            log.contains("Executed 'Functions.housekeeping' (Succeeded"),
            "{log}"
        );
        assert!(
            !log.contains("Executed 'Functions.housekeeping' (Failed"),
            "{log}"
        );
    }
    let after = swept_blobs(storage).await;
    let gone = before.difference(&after).count();
    let deleted: usize = reports.iter().map(|(d, _)| d).sum();
    let moved: usize = reports.iter().map(|(_, m)| m).sum();
    eprintln!("housekeeping on two instances at once: {reports:?}, {gone} blobs gone");
    assert!(gone >= 20, "{gone} blobs gone");
    assert_eq!(deleted, gone, "a blob was counted as deleted by both runs");
    assert_eq!(
        moved,
        poisoned.len(),
        "a poison message was drained twice, or not at all"
    );
    for id in &poisoned {
        assert!(
            storage
                .blob_properties("poison", &format!("{id}.json"))
                .await
                .unwrap()
                .is_some(),
            "poison message {id} was not kept"
        );
    }
    for queue in [POISON, UPLOADS_POISON] {
        assert_eq!(storage.queue_length(queue).await.unwrap(), 0, "{queue}");
    }
}

/// The CSV of upload `n`: a few houses, each upload a different count.
fn upload_csv(n: usize) -> (String, usize) {
    let rows = 20 + n;
    (houses(rows), rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_work_and_one_killed_loses_nothing() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .is_test(true)
        .try_init();
    let storage = Storage::new(
        &storage::StorageSettings::parse_connection_string("AzureWebJobsStorage", &azurite())
            .unwrap(),
    )
    .unwrap();
    for queue in [QUEUE, POISON, UPLOADS_QUEUE, UPLOADS_POISON] {
        drain(&storage, queue).await;
    }
    let retention = "00:00:05";
    let mut a = Instance::start("a", retention);
    let b = Instance::start("b", retention);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    housekeeping_on_both_at_once(&storage, &http, &a, &b).await;

    let (web1, stop1) = spawn_webapp_on(&azurite());
    let (web2, stop2) = spawn_webapp_on(&azurite());
    let webs = Arc::new([web1, web2]);

    // Eight clients submit the jobs through both web apps; every hundredth travels through
    // a blob (the claim check).
    let started = Instant::now();
    let submitted = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (http, webs, submitted, next) =
                (http.clone(), webs.clone(), submitted.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= JOBS {
                        return;
                    }
                    let rows = if n % 100 == 0 { 1_500 } else { 1 + n % 5 };
                    let web = &webs[n % 2];
                    let accepted = post_until(
                        &http,
                        &format!("{web}/jobs"),
                        "application/json",
                        records(rows).to_string(),
                        202,
                    )
                    .await;
                    let id = accepted["jobId"].as_str().unwrap().to_owned();
                    submitted.lock().await.push((id, rows));
                }
            })
        })
        .collect();
    // The uploads, meanwhile, through both web apps.
    let uploads = {
        let (http, webs) = (http.clone(), webs.clone());
        tokio::spawn(async move {
            let mut accepted = Vec::new();
            for n in 0..UPLOADS {
                let (csv, rows) = upload_csv(n);
                let web = &webs[n % 2];
                let answer =
                    post_until(&http, &format!("{web}/uploads"), "text/csv", csv, 202).await;
                accepted.push((answer["uploadId"].as_str().unwrap().to_owned(), rows));
            }
            accepted
        })
    };

    // One instance goes away with work in flight.
    while submitted.lock().await.len() < JOBS * 3 / 10 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill();
    let killed_at = Instant::now();

    for client in clients {
        client.await.unwrap();
    }
    let accepted_uploads = uploads.await.unwrap();
    let submitted = submitted.lock().await.clone();
    assert_eq!(submitted.len(), JOBS);
    let ids: HashSet<&String> = submitted.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), JOBS, "two submissions were given one job id");

    // Every job's result, read back as a client would.
    let web = &webs[1];
    let deadline = Instant::now() + Duration::from_secs(240);
    for (id, rows) in &submitted {
        let document: Value = loop {
            let response = http.get(format!("{web}/jobs/{id}")).send().await;
            if let Ok(r) = response
                && r.status() == 200
            {
                break r.json().await.unwrap();
            }
            assert!(Instant::now() < deadline, "job {id} has no result");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(document["status"], "succeeded", "{id}: {document}");
        assert_eq!(document["jobId"], id.as_str());
        assert_eq!(document["rows"], *rows, "{id}");
    }
    let all_jobs = started.elapsed();

    // Every upload's result: whole whenever it is seen, of the version uploaded.
    let mut seen: HashMap<String, usize> = HashMap::new();
    while seen.len() < accepted_uploads.len() {
        for (id, rows) in &accepted_uploads {
            if seen.contains_key(id) {
                continue;
            }
            let name = format!("uploads/{id}.csv");
            if let Some(bytes) = storage.get_blob("results", &name).await.unwrap() {
                let text = String::from_utf8(bytes).unwrap();
                assert_eq!(text.lines().count(), rows + 1, "{name} seen half written");
                let result = storage
                    .blob_properties("results", &name)
                    .await
                    .unwrap()
                    .unwrap();
                let source = storage
                    .blob_properties("uploads", &format!("{id}.csv"))
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    result
                        .metadata
                        .get("sourceetag")
                        .map(|e| e.trim_matches('"')),
                    Some(source.etag.trim_matches('"')),
                    "{name}"
                );
                seen.insert(id.clone(), *rows);
            }
        }
        assert!(
            Instant::now() < deadline,
            "uploads without results: {} of {}",
            accepted_uploads.len() - seen.len(),
            accepted_uploads.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Nothing left behind: the killed instance's messages came back and were finished.
    for queue in [QUEUE, UPLOADS_QUEUE] {
        while storage.queue_length(queue).await.unwrap() > 0 {
            assert!(Instant::now() < deadline, "{queue} still holds messages");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for queue in [POISON, UPLOADS_POISON] {
        assert_eq!(storage.queue_length(queue).await.unwrap(), 0, "{queue}");
    }
    eprintln!(
        "two instances, one killed after {} of {JOBS} jobs were accepted: every job done {:.1} s after the first was submitted ({:.0} jobs/s), {:.1} s after the kill; {UPLOADS} uploads scored",
        JOBS * 3 / 10,
        all_jobs.as_secs_f64(),
        JOBS as f64 / all_jobs.as_secs_f64(),
        killed_at.elapsed().as_secs_f64(),
    );
    stop1();
    stop2();
}
