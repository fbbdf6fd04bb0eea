//! SIGTERM and SIGINT stop the server gracefully. A separate test binary, because the signals
//! go to the whole process and would stop the servers of other tests.
#![cfg(unix)]

use functions_custom_handler::bindings::{HttpOutput, HttpTrigger};
use functions_custom_handler::{
    Function, FunctionApp, HttpResponse, Invocation, InvocationError, Outputs, service_fn,
};
use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The signals go to the whole process: one test at a time (nextest runs each test in a
/// process of its own anyway).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The tags of the requests the `tagged` function has run.
static SERVED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Records its request body, a loader's tag, and answers 200.
const TAGGED: HttpTrigger = HttpTrigger::post("req", "tagged");
const SLOW: HttpTrigger = HttpTrigger::post("req", "slow");
const RES: HttpOutput = HttpOutput::new("res");

async fn tagged(mut inv: Invocation) -> Result<Outputs, InvocationError> {
    let body = inv.trigger(&TAGGED)?.body;
    let tag = String::from_utf8_lossy(&body).into_owned();
    SERVED
        .lock()
        .unwrap()
        .get_or_insert_default()
        .insert(tag.clone());
    Ok(Outputs::new().set(&RES, HttpResponse::new(200).text(tag)))
}

/// The invocation the host posts for an HTTP request whose body is `tag`.
fn tagged_invocation(tag: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "Data": {"req": {"Url": "http://localhost:7071/api/tagged", "Method": "POST", "Query": {},
                         "Headers": {}, "Params": {}, "Body": tag}},
        "Metadata": {}
    })
    .to_string();
    format!(
        "POST /tagged HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn slow(_: Invocation) -> Result<Outputs, InvocationError> {
    tokio::time::sleep(Duration::from_millis(400)).await;
    Ok(Outputs::new().set(&RES, HttpResponse::new(200).text("done")))
}

fn send_signal(name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn stops_gracefully_on(signal: &str) {
    let _alone = ONE_AT_A_TIME.lock().await;
    let app = FunctionApp::new()
        .function(
            Function::new("slow")
                .trigger(SLOW)
                .output(RES)
                .handler(service_fn(slow)),
        )
        .workers(1);
    let server = app.bind(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    let address = format!("http://127.0.0.1:{}", server.port());
    let running = tokio::spawn(server.run());
    let in_flight = tokio::spawn(
        reqwest::Client::new()
            .post(format!("{address}/slow"))
            .body(r#"{"Data": {}, "Metadata": {}}"#)
            .send(),
    );
    // Let the request reach the handler (and the signal watcher start) first.
    tokio::time::sleep(Duration::from_millis(150)).await;
    send_signal(signal);
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status().as_u16(), 200, "{signal}");
    let body: functions_custom_handler_protocol::InvocationResponse =
        response.json().await.unwrap();
    assert_eq!(
        body.http_output("res").unwrap().unwrap().body.as_deref(),
        Some(&b"done"[..])
    );
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the server did not stop after the signal")
        .unwrap()
        .unwrap();
    assert!(reqwest::Client::new().get(&address).send().await.is_err());
}

#[tokio::test]
async fn sigterm_and_sigint_finish_in_flight_invocations_then_stop() {
    stops_gracefully_on("TERM").await;
    stops_gracefully_on("INT").await;
}

/// The Functions host keeps its connections to the handler alive; stopping must not reset one
/// the host has just sent an invocation on (before the drain, 40 of them under this load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_keep_alive_load_answers_every_invocation_sent() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let app = FunctionApp::new()
        .function(
            Function::new("tagged")
                .trigger(TAGGED)
                .output(RES)
                .handler(service_fn(tagged)),
        )
        .workers(1);
    let server = app.bind(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    let port = server.port();
    let running = tokio::spawn(server.run());
    let loaders = drain::loader::start(port, 64, tagged_invocation);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let signalled = Instant::now();
    send_signal("TERM");
    let load = tokio::task::spawn_blocking(move || loaders.finish())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the server did not stop after the signal")
        .unwrap()
        .unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "stopping took {:?}",
        signalled.elapsed()
    );
    let served = SERVED.lock().unwrap().take().unwrap_or_default();
    assert!(
        load.unanswered.is_empty(),
        "reset without an answer: {:?} (of which run: {:?})",
        load.unanswered,
        load.unanswered
            .iter()
            .filter(|t| served.contains(*t))
            .collect::<Vec<_>>()
    );
    assert_eq!(served.len(), load.answered.len());
    assert!(load.answered.len() > 64, "the load did not run");
}
