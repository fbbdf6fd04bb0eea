//! SIGTERM and SIGINT stop the server gracefully. A separate test binary, because the signals
//! go to the whole process and would stop the servers of other tests.
#![cfg(unix)]

use custom_handler::{
    Function, FunctionApp, HttpResponse, HttpTrigger, Invocation, InvocationError,
    InvocationResponse, service_fn,
};
use std::net::TcpListener;
use std::time::Duration;

async fn slow(_: Invocation) -> Result<InvocationResponse, InvocationError> {
    tokio::time::sleep(Duration::from_millis(400)).await;
    Ok(InvocationResponse::http(
        "res",
        HttpResponse::new(200).text("done"),
    ))
}

fn send_signal(name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn stops_gracefully_on(signal: &str) {
    let app = FunctionApp::new()
        .function(
            Function::new("slow")
                .http_trigger("req", HttpTrigger::post("slow"))
                .http_output("res")
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
    let body: InvocationResponse = response.json().await.unwrap();
    assert_eq!(
        body.http_output("res").unwrap().unwrap().body.as_deref(),
        Some("done")
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
