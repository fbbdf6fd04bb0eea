//! What the tests that run the handler binary share.

use std::time::{Duration, Instant};

/// Waits until the handler on `port` answers the host's readiness probe (`GET /`).
pub fn wait_until_ready(client: &reqwest::blocking::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while client
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .is_err()
    {
        assert!(Instant::now() < deadline, "the handler did not start");
        std::thread::sleep(Duration::from_millis(25));
    }
}
