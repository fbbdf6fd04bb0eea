//! The protocol garbage of the bad-input corpus (`bad-input/protocol.json`) on raw connections
//! to the handler's server: whatever reaches it (the host is its only real client), it answers
//! with the status the corpus names, closes the connection, and goes on serving invocations.

#[path = "../../../bad-input/corpus.rs"]
mod corpus;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::helpers::{fixture, spawn_app};

fn exchange(address: &str, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(address.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let _ = stream.write_all(bytes);
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

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
        let text = tokio::task::spawn_blocking(move || exchange(&address, &bytes))
            .await
            .unwrap();
        let status: u16 = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        assert_eq!(status, case.status, "{}: {text}", case.name);
        assert!(
            text.to_ascii_lowercase().contains("connection: close"),
            "{}: {text}",
            case.name
        );
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
