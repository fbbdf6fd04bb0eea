//! Graceful shutdown: stop accepting, finish what is in flight, then return.

use crate::helpers::{http_envelope, spawn_app};
use functions_custom_handler_protocol::InvocationResponse;
use std::time::Duration;

#[tokio::test]
async fn stopping_gracefully_finishes_in_flight_invocations_and_refuses_new_ones() {
    let app = spawn_app().await;
    let client = app.client.clone();
    let url = format!("{}/slow", app.address);
    let in_flight = tokio::spawn(async move {
        client
            .post(url)
            .body(http_envelope("POST", Some("400")).to_string())
            .send()
            .await
    });
    // Let the request reach the handler before stopping.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let stopped = app.handle.stop(true);
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: InvocationResponse = response.json().await.unwrap();
    assert_eq!(
        body.http_output("res").unwrap().unwrap().body.as_deref(),
        Some(&b"slept 400 ms"[..])
    );
    stopped.await;
    app.server.await.unwrap().unwrap();
    let refused = reqwest::Client::new().get(&app.address).send().await;
    assert!(refused.is_err(), "the server still answers after stopping");
}
