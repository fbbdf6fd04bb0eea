//! The full loop across both apps: the web app queues a job on Azurite, the Functions app
//! (the real handler under the local host) scores it from the queue and writes the result
//! blob, and the web app answers that result, the same predictions its `/predict` gives.

use std::time::{Duration, Instant};

use serde_json::Value;
use webapp::configuration::Settings;
use webapp::startup::Application;

use crate::helpers::{azurite, records, start};

/// The web app as App Service runs it, configured through the same variables, on the
/// Azurite the local host uses.
struct WebApp {
    address: String,
    http: reqwest::Client,
}

/// Builds and spawns the web app; returns it and the handle that stops it.
fn spawn_webapp() -> (WebApp, impl FnOnce()) {
    let connection = azurite();
    let settings = Settings::from_vars(|name| match name {
        "AzureWebJobsStorage" => Some(connection.clone()),
        "PORT" => Some("0".to_owned()),
        "BIND_ADDRESS" => Some("127.0.0.1".to_owned()),
        "WORKERS" => Some("1".to_owned()),
        _ => None,
    })
    .unwrap();
    assert!(
        settings.storage.is_some(),
        "the web app reads AzureWebJobsStorage"
    );
    let app = Application::build(settings).unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let stop = move || drop(handle.stop(false));
    (
        WebApp {
            address,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        },
        stop,
    )
}

impl WebApp {
    /// Submits a JSON batch to `POST /jobs`; returns the job id and its status URL.
    async fn submit(&self, body: &Value) -> (String, String) {
        let response = self
            .http
            .post(format!("{}/jobs", self.address))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202, "the web app refused the job");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let accepted: Value = response.json().await.unwrap();
        let id = accepted["jobId"].as_str().unwrap().to_owned();
        assert_eq!(accepted["statusUrl"], format!("/jobs/{id}"));
        assert_eq!(location, format!("/jobs/{id}"));
        (id, location)
    }

    /// Polls the status URL until the job has a result; panics after `timeout`.
    async fn wait_for_result(&self, status_url: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let response = self
                .http
                .get(format!("{}{status_url}", self.address))
                .send()
                .await
                .unwrap();
            match response.status().as_u16() {
                200 => return response.json().await.unwrap(),
                404 => {
                    let body: Value = response.json().await.unwrap();
                    assert_eq!(body["status"], "pending-or-unknown");
                }
                other => panic!(
                    "GET {status_url} answered {other}: {}",
                    response.text().await.unwrap()
                ),
            }
            assert!(
                started.elapsed() < timeout,
                "{status_url} has no result after {timeout:?}: is score-job consuming predict-jobs?"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What `POST /predict` answers for the same batch, right now.
    async fn predictions(&self, body: &Value) -> Vec<f64> {
        let response = self
            .http
            .post(format!("{}/predict", self.address))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let json: Value = response.json().await.unwrap();
        floats(&json["prediction"])
    }

    async fn model_version(&self) -> String {
        let health: Value = self
            .http
            .get(format!("{}/health", self.address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        health["modelVersion"].as_str().unwrap().to_owned()
    }
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

/// Submits `rows` rows through the web app and checks the Functions app's answer, read
/// back through the web app, against the web app's own `/predict`.
async fn round_trip(web: &WebApp, rows: usize) -> String {
    let body = records(rows);
    let (id, status_url) = web.submit(&body).await;
    let result = web
        .wait_for_result(&status_url, Duration::from_secs(60))
        .await;
    assert_eq!(result["jobId"], id);
    assert_eq!(result["status"], "succeeded", "{result}");
    assert_eq!(result["rows"], rows);
    assert_eq!(result["modelVersion"], web.model_version().await);
    let predictions = floats(&result["predictions"]);
    assert_eq!(predictions.len(), rows);
    assert_eq!(predictions, web.predictions(&body).await);
    id
}

#[tokio::test]
async fn a_job_queued_by_the_web_app_is_scored_by_the_functions_app_and_answered_by_the_web_app() {
    let stack = start().await;
    let (web, stop) = spawn_webapp();
    round_trip(&web, 25).await;
    stop();
    stack.host.stop().await;
}

#[tokio::test]
async fn a_5000_row_job_goes_through_the_rows_blob_and_comes_back_complete() {
    let stack = start().await;
    let (web, stop) = spawn_webapp();
    let id = round_trip(&web, 5_000).await;
    // The claim check was really used: the rows went through job-inputs, not the message.
    let blob = stack
        .storage
        .get_blob("job-inputs", &format!("{id}.json"))
        .await
        .unwrap()
        .expect("the web app wrote the rows blob");
    let rows: Vec<Value> = serde_json::from_slice(&blob).unwrap();
    assert_eq!(rows.len(), 5_000);
    stop();
    stack.host.stop().await;
}

#[tokio::test]
async fn a_file_uploaded_to_the_web_app_is_scored_by_the_functions_app_and_downloaded_from_the_web_app()
 {
    // The local host stands in for the Event Grid subscription of infra/events.bicep.
    let stack =
        crate::helpers::start_with_settings(&[("LOCALHOST_BLOB_EVENTS", "queue-upload=uploads")])
            .await;
    let (web, stop) = spawn_webapp();
    // About 1 MB: more than /predict takes in one request.
    let mut csv = String::from("LSTAT,RM,CHAS,TAX,PTRATIO,B\n");
    for i in 0..42_000 {
        csv.push_str(&format!(
            "{},{}.{},{},296,15.3,396.9\n",
            4 + i % 20,
            5 + i % 3,
            i % 10,
            i % 2
        ));
    }
    let started = Instant::now();
    let accepted: Value = web
        .http
        .post(format!("{}/uploads", web.address))
        .header("Content-Type", "text/csv")
        .body(csv.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let status_url = format!("{}{}", web.address, accepted["statusUrl"].as_str().unwrap());
    let done = loop {
        let status: Value = web
            .http
            .get(&status_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["status"] != "pending" {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "still pending");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "{} bytes, upload to result: {} ms",
        csv.len(),
        started.elapsed().as_millis()
    );
    assert_eq!(done["status"], "succeeded", "{done}");
    let result = web
        .http
        .get(format!(
            "{}{}",
            web.address,
            done["resultUrl"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // What /predict would answer for the same CSV, were it small enough: the same code
    // (csv_stream's tests pin the two equal).
    let mut predicted = Vec::new();
    house_price::csv_stream::score_csv(
        &house_price::Model::embedded().unwrap(),
        csv.as_bytes(),
        &mut predicted,
    )
    .unwrap();
    assert!(result.as_bytes() == predicted, "the result differs");
    stop();
    stack.host.stop().await;
}
