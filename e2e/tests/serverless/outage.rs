//! A storage outage with jobs in flight: Azurite, keeping its data on disk, stops for 10 s
//! and comes back while jobs are being submitted and scored. Every job a client meant to
//! submit gets exactly one result, no job exists that a client was not told about, and the
//! web app, the local host and the handler reconnect by themselves; nothing is restarted but
//! storage.
//!
//! A `POST /jobs` in flight when storage stops can be answered 503 although its message was
//! queued. The client retries with the same `Idempotency-Key`, so the retry is the same job
//! (`house_price::jobs::job_id`), not a second one scored under an id it never received.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{POISON, QUEUE, records, repo, spawn_webapp_on, start_with};

/// An Azurite of this test's own, on fixed ports, with its data in a folder, so it can be
/// stopped and started again with everything it held.
struct DiskAzurite {
    folder: PathBuf,
    ports: [u16; 3],
    child: Option<Child>,
}

impl DiskAzurite {
    fn start() -> DiskAzurite {
        let folder = std::env::temp_dir().join(format!("outage-azurite-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&folder).unwrap();
        let ports = [free_port(), free_port(), free_port()];
        let mut azurite = DiskAzurite {
            folder,
            ports,
            child: None,
        };
        azurite.resume();
        azurite
    }

    fn connection(&self) -> String {
        let [blob, queue, table] = self.ports;
        format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:{blob}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{queue}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{table}/devstoreaccount1;"
        )
    }

    /// Starts Azurite on the same ports and folder; returns once all three ports answer.
    fn resume(&mut self) {
        let [blob, queue, table] = self.ports.map(|p| p.to_string());
        let child = Command::new(repo().join("node_modules/.bin/azurite"))
            .args(["--blobHost", "127.0.0.1", "--blobPort", &blob])
            .args(["--queueHost", "127.0.0.1", "--queuePort", &queue])
            .args(["--tableHost", "127.0.0.1", "--tablePort", &table])
            .arg("--location")
            .arg(&self.folder)
            .args(["--silent", "--disableTelemetry"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Azurite is installed (npm ci, as scripts/azurite.sh does)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self
            .ports
            .iter()
            .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok())
        {
            assert!(Instant::now() < deadline, "Azurite did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops Azurite as an outage would: the process is gone, the data stays on disk. With
    /// SIGTERM, so Azurite saves what it keeps in memory first; a real account never loses a
    /// write it acknowledged, and a killed Azurite does (its metadata is saved every few s).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for DiskAzurite {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Submits one job through the web app, trying again after each 503 as its `Retry-After`
/// asks (a second here, to keep the test short) with the same idempotency key; returns the
/// job id and when it was accepted.
async fn submit(http: &reqwest::Client, web: &str, rows: usize) -> (String, Instant) {
    let body = records(rows).to_string();
    let key = uuid::Uuid::new_v4().to_string();
    loop {
        let response = http
            .post(format!("{web}/jobs"))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &key)
            .body(body.clone())
            .send()
            .await;
        match response {
            Ok(r) if r.status() == 202 => {
                let accepted: Value = r.json().await.unwrap();
                return (
                    accepted["jobId"].as_str().unwrap().to_owned(),
                    Instant::now(),
                );
            }
            Ok(r) if r.status() == 503 => {
                assert!(
                    r.headers().contains_key("retry-after"),
                    "a 503 without Retry-After"
                );
            }
            Ok(r) => panic!(
                "POST /jobs answered {}: {}",
                r.status(),
                r.text().await.unwrap()
            ),
            Err(e) => panic!("the web app did not answer: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The job's result through the web app, once it has one.
async fn result(http: &reqwest::Client, web: &str, id: &str, within: Duration) -> Value {
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{web}/jobs/{id}")).send().await {
            match r.status().as_u16() {
                200 => return r.json().await.unwrap(),
                404 | 503 => {}
                other => panic!("GET /jobs/{id} answered {other}"),
            }
        }
        assert!(
            started.elapsed() < within,
            "job {id} has no result after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_in_flight_survive_a_10_second_storage_outage_and_everything_reconnects() {
    const JOBS: usize = 200;
    // What the local host and the web app say about storage while it is gone.
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .is_test(true)
        .try_init();
    let mut azurite = DiskAzurite::start();
    let connection = azurite.connection();
    // A message whose failure cannot be recorded while storage is gone reappears when its
    // lease ends: 10 minutes on the real host (azure-webjobs-sdk
    // `src/Microsoft.Azure.WebJobs.Extensions.Storage/Queues/Listeners/QueueListener.cs`,
    // `_visibilityTimeout`), 20 s here.
    let stack = start_with(&connection, &[], Duration::from_secs(20)).await;
    let (web, stop_webapp) = spawn_webapp_on(&connection);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    // Four clients submit the jobs; every tenth is big enough to travel through a blob.
    let submitted = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (http, web, submitted, next) =
                (http.clone(), web.clone(), submitted.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if n >= JOBS {
                        return;
                    }
                    let rows = if n % 10 == 0 { 1_500 } else { 1 + n % 7 };
                    let (id, at) = submit(&http, &web, rows).await;
                    submitted.lock().await.push((id, rows, at));
                }
            })
        })
        .collect();

    // The outage starts with part of the jobs accepted and being scored.
    while submitted.lock().await.len() < JOBS / 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    azurite.stop();
    tokio::time::sleep(Duration::from_secs(10)).await;
    azurite.resume();
    let back = Instant::now();

    for client in clients {
        client.await.unwrap();
    }
    let submitted = submitted.lock().await.clone();
    assert_eq!(submitted.len(), JOBS);
    let first_accepted_after = submitted
        .iter()
        .map(|(_, _, at)| *at)
        .filter(|at| *at > back)
        .min()
        .map(|at| at - back);

    let mut last_result = Duration::ZERO;
    for (id, rows, _) in &submitted {
        let document = result(&http, &web, id, Duration::from_secs(120)).await;
        last_result = last_result.max(back.elapsed());
        assert_eq!(document["status"], "succeeded", "{id}: {document}");
        assert_eq!(document["jobId"], id.as_str());
        assert_eq!(document["rows"], *rows, "{id}");
        assert_eq!(document["predictions"].as_array().unwrap().len(), *rows);
    }
    // Exactly one result each: nothing left to score, nothing poisoned, and the ids unique.
    let ids: std::collections::HashSet<&String> = submitted.iter().map(|(id, _, _)| id).collect();
    assert_eq!(ids.len(), JOBS);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stack.queue_is_empty(QUEUE).await {
        assert!(Instant::now() < deadline, "messages are still queued");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(stack.queue_is_empty(POISON).await, "a job was poisoned");

    // A job submitted now goes all the way through at once: every part has reconnected.
    let probe_start = Instant::now();
    let (probe, _) = submit(&http, &web, 3).await;
    result(&http, &web, &probe, Duration::from_secs(30)).await;

    // No result for a job no client was told about: a 503 whose message was queued anyway
    // was retried as the same job.
    let told: std::collections::HashSet<String> = submitted
        .iter()
        .map(|(id, _, _)| format!("{id}.json"))
        .chain([format!("{probe}.json")])
        .collect();
    let results = stack.storage.list_blobs("results", None).await.unwrap();
    let unknown: Vec<&String> = results.iter().filter(|r| !told.contains(*r)).collect();
    assert!(
        unknown.is_empty(),
        "results of jobs no client was told about: {unknown:?}"
    );
    assert_eq!(results.len(), told.len());
    eprintln!(
        "outage 10 s with {JOBS} jobs: first job accepted {:?} after storage came back; all results {:?} after; a new job end to end {:?}",
        first_accepted_after,
        last_result,
        probe_start.elapsed()
    );
    stop_webapp();
    stack.host.stop().await;
}
