//! Per-client limits on the job routes (issue 9, finding 9): over the limit is a JSON 429 with
//! `Retry-After`, the client is the address App Service's front end appended to
//! `X-Forwarded-For`, and other routes are not limited. No storage here: an allowed request
//! gets its 503, which is enough to tell it from a throttled one.

use crate::helpers::{FIRST_ROW, TestApp, assert_error, spawn_app_with};

const JOB: &str = "00000000-0000-4000-8000-000000000000";

async fn submit(app: &TestApp, forwarded_for: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/jobs", app.address))
        .header("Content-Type", "application/json")
        .header("X-Forwarded-For", forwarded_for)
        .body(FIRST_ROW)
        .send()
        .await
        .unwrap()
}

async fn status(app: &TestApp, forwarded_for: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/jobs/{JOB}", app.address))
        .header("X-Forwarded-For", forwarded_for)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_client_over_its_job_submission_limit_gets_a_429_with_retry_after() {
    let app = spawn_app_with(|s| s.job_submissions_per_minute = 3).await;
    for _ in 0..3 {
        assert_eq!(submit(&app, "203.0.113.7:52144").await.status(), 503);
    }
    let refused = submit(&app, "203.0.113.7:52145").await;
    assert_eq!(refused.headers()["retry-after"], "20");
    let message = assert_error(refused, 429, "too_many_requests").await;
    assert_eq!(
        message,
        "this address has sent too many requests: try again in 20 s"
    );
    // What a client writes into X-Forwarded-For itself comes before the front end's entry.
    let spoofed = submit(&app, "198.51.100.9, 203.0.113.7:52146").await;
    assert_eq!(spoofed.status(), 429);
    // Another client has its own allowance; predictions are not limited.
    assert_eq!(submit(&app, "198.51.100.9:40000").await.status(), 503);
    for _ in 0..5 {
        assert_eq!(app.post_json(FIRST_ROW).await.status(), 200);
    }
}

#[tokio::test]
async fn status_checks_have_their_own_limit_and_zero_turns_a_limit_off() {
    let app = spawn_app_with(|s| {
        s.job_status_checks_per_minute = 2;
        s.job_submissions_per_minute = 0;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(status(&app, "203.0.113.7").await.status(), 503);
    }
    let refused = status(&app, "203.0.113.7").await;
    assert_eq!(refused.headers()["retry-after"], "30");
    assert_error(refused, 429, "too_many_requests").await;
    for _ in 0..40 {
        assert_eq!(submit(&app, "203.0.113.7").await.status(), 503);
    }
}

#[tokio::test]
async fn without_x_forwarded_for_the_connection_address_is_the_client() {
    let app = spawn_app_with(|s| s.job_submissions_per_minute = 1).await;
    let first = app.post_job("application/json", FIRST_ROW).await;
    assert_eq!(first.status(), 503);
    let second = app.post_job("application/json", FIRST_ROW).await;
    assert_error(second, 429, "too_many_requests").await;
}
