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

use crate::helpers::{
    FIRST_ROW, THREE_HOUSES_CSV, TempDir, dollars, free_port, spawn_app, wait_for_port,
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

#[tokio::test]
async fn the_page_predicts_one_house_and_a_batch_in_a_real_browser() {
    for binary in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(binary).exists(),
            "{binary} is missing: run scripts/install-browser.sh to install chromium and chromium-driver"
        );
    }
    let app = spawn_app().await;
    let profile = TempDir::new("webapp-chromium-profile");
    let port = free_port();
    let _driver = Driver(
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
        &client,
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
        &client,
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
        &client,
        "return window.cspViolations.length > 0 && window.cspViolations",
        "the deliberate violation to be recorded",
    )
    .await;
    assert!(
        recorded[0].as_str().unwrap().starts_with("img-src"),
        "{recorded}"
    );

    client.close().await.unwrap();
}
