use crate::helpers::{Names, app_copy, options, spawn_with};
use local_host::Host;
use std::path::Path;
use std::time::{Duration, Instant};

#[tokio::test]
async fn start_waits_until_the_handler_answers() {
    let started = Instant::now();
    let app = spawn_with("app", |o| o.setting("TEST_HANDLER_START_DELAY_MS", "700")).await;
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert_eq!(app.get("/api/items/1").await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn start_fails_clearly_when_the_handler_never_answers() {
    let dir = app_copy("app");
    let names = Names::unique();
    let result = Host::start(
        options("app", &dir, &names)
            .setting("TEST_HANDLER_START_DELAY_MS", "20000")
            .startup_timeout(Duration::from_secs(1)),
    )
    .await;
    let err = result.expect_err("the host should not start").to_string();
    assert!(
        err.contains("did not answer GET http://127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("within 1 s"), "{err}");
}

#[tokio::test]
async fn a_handler_that_dies_is_restarted_and_serves_again() {
    let app = spawn_with("app", |o| o).await;
    let first = app.host.handler_pid().unwrap();
    assert_eq!(app.get("/api/crash").await.status(), 500);
    let second = app
        .eventually("a new handler process", Duration::from_secs(15), || {
            let pid = app.host.handler_pid();
            async move { pid.filter(|p| *p != first) }
        })
        .await;
    assert_ne!(first, second);
    assert_eq!(app.get("/api/items/1").await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn stop_kills_the_handler() {
    let app = spawn_with("app", |o| o).await;
    let pid = app.host.handler_pid().unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    app.stop().await;
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "handler {pid} is still running"
    );
}

#[tokio::test]
async fn stop_lets_the_handler_finish_gracefully_before_any_kill() {
    let stop_file = std::env::temp_dir().join(format!("handler-stop-{}", uuid::Uuid::new_v4()));
    let path = stop_file.to_string_lossy().into_owned();
    let app = spawn_with("app", |o| {
        o.setting("TEST_HANDLER_STOP_FILE", path.as_str())
    })
    .await;
    app.stop().await;
    // Only a handler that got SIGTERM (not SIGKILL) lives to write this file.
    let written = std::fs::read_to_string(&stop_file).unwrap_or_default();
    let _ = std::fs::remove_file(&stop_file);
    assert_eq!(written, "graceful");
}
