//! The page in a real headless Chromium, driven over WebDriver: what a person sees.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};

use house_price::Model;
use house_price::jobs::{self, JobStatus};

use crate::helpers::{
    FIRST_ROW, THREE_HOUSES_CSV, TempDir, azurite_storage, dollars, free_port, spawn_app,
    spawn_app_with_azurite, take_message, wait_for_port,
};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver and every browser process it started (they share its process group),
/// killed when the test ends, pass or fail.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.0.id() as i32), Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

async fn eventually(client: &Client, script: &str, what: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = client.execute(script, vec![]).await.unwrap();
        if !value.is_null() && value != json!(false) {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A headless Chromium session, with what it needs kept alive alongside it.
struct Browser {
    client: Client,
    _driver: Driver,
    _profile: TempDir,
}

/// Starts chromedriver and a headless Chromium session with a fresh profile.
async fn open_browser() -> Browser {
    for binary in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(binary).exists(),
            "{binary} is missing: run scripts/install-browser.sh to install chromium and chromium-driver"
        );
    }
    let profile = TempDir::new("webapp-chromium-profile");
    let port = free_port();
    let driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, Duration::from_secs(10));

    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.0.display()),
            ],
        }),
    );
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("chromedriver starts a Chromium session");
    Browser {
        client,
        _driver: driver,
        _profile: profile,
    }
}

#[tokio::test]
async fn the_page_predicts_one_house_and_a_batch_in_a_real_browser() {
    let app = spawn_app().await;
    let browser = open_browser().await;
    let client = &browser.client;

    client.goto(&format!("{}/", app.address)).await.unwrap();
    assert_eq!(client.title().await.unwrap(), "House price estimate");

    // One house: the form is pre-filled with the first data row.
    let expected = app.predictions(FIRST_ROW).await[0];
    client
        .find(Locator::Id("predict-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let price = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#price[data-medv]"))
        .await
        .expect("a price appears");
    let medv: f64 = price
        .attr("data-medv")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(medv, expected);
    assert_eq!(price.text().await.unwrap(), dollars(expected));
    assert_eq!(
        client.current_url().await.unwrap().path(),
        "/",
        "the page did not reload"
    );

    // A batch: three CSV rows in, a table of three predictions out.
    let expected: Vec<String> = app
        .post_predict(Some("text/csv"), THREE_HOUSES_CSV)
        .await
        .text()
        .await
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.rsplit(',').next().unwrap().to_owned())
        .collect();
    assert_eq!(expected.len(), 3);
    let batch = client.find(Locator::Id("batch-csv")).await.unwrap();
    batch.clear().await.unwrap();
    batch.send_keys(THREE_HOUSES_CSV).await.unwrap();
    client
        .find(Locator::Id("batch-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually(
        client,
        "return document.querySelectorAll('#batch-table:not([hidden]) td.prediction').length === 3",
        "three predictions in the table",
    )
    .await;
    let mut shown = Vec::new();
    for cell in client
        .find_all(Locator::Css("#batch-table td.prediction"))
        .await
        .unwrap()
    {
        shown.push(cell.text().await.unwrap());
    }
    assert_eq!(shown, expected);

    // An API error is shown as its message.
    batch.clear().await.unwrap();
    batch
        .send_keys("CHAS,RM,TAX,PTRATIO,B,LSTAT \n0,6.575,296,15.3,396.9,4.98\n")
        .await
        .unwrap();
    client
        .find(Locator::Id("batch-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let message = eventually(
        client,
        "const e = document.getElementById('batch-error'); return !e.hidden && e.textContent",
        "the error message",
    )
    .await;
    assert!(
        message
            .as_str()
            .unwrap()
            .starts_with("unknown column \"LSTAT \""),
        "{message}"
    );
    assert!(
        client
            .find(Locator::Css("#batch-table[hidden]"))
            .await
            .is_ok()
    );

    // The page kept within its Content-Security-Policy...
    let violations = client
        .execute("return window.cspViolations", vec![])
        .await
        .unwrap();
    assert_eq!(violations, json!([]), "CSP violations");
    // ...and the recorder would have noticed otherwise: an outside image is blocked and recorded.
    client
        .execute(
            "const img = document.createElement('img'); img.src = 'http://192.0.2.1/x.png'; document.body.append(img);",
            vec![],
        )
        .await
        .unwrap();
    let recorded = eventually(
        client,
        "return window.cspViolations.length > 0 && window.cspViolations",
        "the deliberate violation to be recorded",
    )
    .await;
    assert!(
        recorded[0].as_str().unwrap().starts_with("img-src"),
        "{recorded}"
    );

    browser.client.close().await.unwrap();
}

/// Types the CSV, ticks "Run as a background job" (once) and submits the batch.
async fn submit_background_batch(client: &Client, csv: &str, tick: bool) {
    let batch = client.find(Locator::Id("batch-csv")).await.unwrap();
    batch.clear().await.unwrap();
    batch.send_keys(csv).await.unwrap();
    if tick {
        client
            .find(Locator::Id("batch-background"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    client
        .find(Locator::Id("batch-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_page_queues_a_csv_batch_as_a_background_job_and_shows_its_predictions_once_scored() {
    let app = spawn_app_with_azurite().await;
    let storage = azurite_storage();
    let browser = open_browser().await;
    let client = &browser.client;
    client.goto(&format!("{}/", app.address)).await.unwrap();
    submit_background_batch(client, THREE_HOUSES_CSV, true).await;

    let job_id = eventually(
        client,
        "const e = document.getElementById('job-status'); return !e.hidden && e.dataset.state === 'queued' && e.dataset.jobId",
        "the job to be shown as queued",
    )
    .await;
    let job_id = job_id.as_str().unwrap().to_owned();
    let status = client
        .find(Locator::Id("job-status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        status.contains("queued") && status.contains(&job_id),
        "{status}"
    );

    // Do what the Functions app's score-job does with the message: the page is polling
    // meanwhile and must pick the result up on its own.
    let text = take_message(&storage, &job_id).await;
    let result = jobs::score(&Model::embedded().unwrap(), &text, None).unwrap();
    assert_eq!(result.status, JobStatus::Succeeded);
    storage.ensure_container("results").await.unwrap();
    storage
        .put_blob_path(
            &jobs::result_path(&result.job_id),
            result.to_json().into_bytes(),
            "application/json",
        )
        .await
        .unwrap();

    eventually(
        client,
        "return document.getElementById('job-status').dataset.state === 'succeeded' && document.querySelectorAll('#batch-table:not([hidden]) td.prediction').length === 3",
        "the job's three predictions in the table",
    )
    .await;
    let mut shown = Vec::new();
    for cell in client
        .find_all(Locator::Css("#batch-table td.prediction"))
        .await
        .unwrap()
    {
        shown.push(cell.text().await.unwrap().parse::<f64>().unwrap());
    }
    assert_eq!(shown, result.predictions);
    let first_row: Vec<String> = {
        let mut cells = Vec::new();
        for cell in client
            .find_all(Locator::Css("#batch-table tbody tr:first-child td"))
            .await
            .unwrap()
        {
            cells.push(cell.text().await.unwrap());
        }
        cells
    };
    assert_eq!(
        first_row[..6],
        ["0", "6.575", "296", "15.3", "396.9", "4.98"]
    );

    // An invalid batch is refused at submission, with the API's message.
    submit_background_batch(client, "CHAS,RM,TAX,PTRATIO,B,LSTAT\n", false).await;
    let message = eventually(
        client,
        "const e = document.getElementById('batch-error'); return !e.hidden && e.textContent",
        "the error message",
    )
    .await;
    assert_eq!(message, "the batch has no rows");

    // Without storage, the page shows why jobs are unavailable.
    let off = spawn_app().await;
    client.goto(&format!("{}/", off.address)).await.unwrap();
    submit_background_batch(client, THREE_HOUSES_CSV, true).await;
    let message = eventually(
        client,
        "const e = document.getElementById('batch-error'); return !e.hidden && e.textContent",
        "the unavailable message",
    )
    .await;
    assert_eq!(
        message,
        "background jobs need storage: set AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__accountName"
    );
    assert!(
        client
            .find(Locator::Css("#job-status[hidden]"))
            .await
            .is_ok()
    );

    let violations = client
        .execute("return window.cspViolations", vec![])
        .await
        .unwrap();
    assert_eq!(violations, json!([]), "CSP violations");
    browser.client.close().await.unwrap();
}

#[tokio::test]
async fn the_page_uploads_a_csv_file_waits_for_its_scoring_and_offers_the_result() {
    let app = spawn_app_with_azurite().await;
    let storage = azurite_storage();
    let dir = TempDir::new("webapp-upload");
    std::fs::create_dir_all(&dir.0).unwrap();
    let file = dir.0.join("houses.csv");
    std::fs::write(&file, THREE_HOUSES_CSV).unwrap();
    let browser = open_browser().await;
    let client = &browser.client;
    client.goto(&format!("{}/", app.address)).await.unwrap();
    client
        .find(Locator::Id("file-input"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    client
        .find(Locator::Id("file-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let upload_id = eventually(
        client,
        "const e = document.getElementById('file-status'); return e.dataset.state === 'scoring' && e.dataset.uploadId",
        "the upload to be stored and shown as scoring",
    )
    .await;
    let upload_id: uuid::Uuid = upload_id.as_str().unwrap().parse().unwrap();
    // Do what the Functions app's score-upload does with the stored file.
    let name = house_price::uploads::upload_name(&upload_id);
    let stored = storage.get_blob("uploads", &name).await.unwrap().unwrap();
    assert_eq!(stored, THREE_HOUSES_CSV.as_bytes());
    let mut scored = Vec::new();
    house_price::csv_stream::score_csv(&Model::embedded().unwrap(), &stored[..], &mut scored)
        .unwrap();
    storage.ensure_container("results").await.unwrap();
    storage
        .put_blob(
            "results",
            &house_price::uploads::result_name(&name),
            scored.clone(),
            "text/csv",
        )
        .await
        .unwrap();
    let href = eventually(
        client,
        "const a = document.getElementById('file-download'); return !a.hidden && document.getElementById('file-status').dataset.state === 'succeeded' && a.getAttribute('href')",
        "the download link",
    )
    .await;
    let downloaded = app.get(href.as_str().unwrap()).await.bytes().await.unwrap();
    assert_eq!(downloaded, scored);
    let violations = client
        .execute("return window.cspViolations", vec![])
        .await
        .unwrap();
    assert_eq!(violations, json!([]));
}
