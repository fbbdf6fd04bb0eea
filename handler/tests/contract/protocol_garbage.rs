//! The protocol garbage of the bad-input corpus (`bad-input/protocol.json`) on raw connections
//! to the handler's server: whatever reaches it (the host is its only real client), it answers
//! with the status the corpus names, closes the connection, and goes on serving invocations.

#[path = "../../../bad-input/corpus.rs"]
mod corpus;

use crate::helpers::{fixture, spawn_app};

#[tokio::test]
async fn protocol_garbage_gets_its_status_and_the_handler_keeps_serving() {
    let app = spawn_app().await;
    // The cases our code answers are the web app's routes; the rest are answered by actix-http
    // before any route, the same in both servers.
    for case in corpus::protocol_cases()
        .into_iter()
        .filter(|c| !c.answered_by_app)
    {
        let address = app.address.clone();
        let bytes = case.bytes.clone();
        let answer = tokio::task::spawn_blocking(move || corpus::exchange(&address, &bytes))
            .await
            .unwrap();
        corpus::assert_protocol_answer(&case, &answer);
        let invoked = app
            .invoke(
                "predict",
                fixture!("predict_original_client_core_tools.json"),
            )
            .await;
        invoked.assert_completed();
        assert_eq!(invoked.res().status, 200, "after {}", case.name);
    }
}
