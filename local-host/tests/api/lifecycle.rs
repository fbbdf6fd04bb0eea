use crate::helpers::{Names, app_copy, options, spawn_with};
use local_host::Host;
use local_host::worker::WorkerState;
use serde_json::{Value, json};
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

// Workers/Http/HttpWorkerProcess.cs: both port and both worker-id variables, and the app root.
#[tokio::test]
async fn the_handler_gets_both_port_and_both_worker_id_variables() {
    let app = spawn_with("app", |o| o).await;
    let vars: Value =
        serde_json::from_str(&app.get("/api/env").await.text().await.unwrap()).unwrap();
    assert_eq!(
        vars["FUNCTIONS_CUSTOMHANDLER_PORT"],
        vars["FUNCTIONS_HTTPWORKER_PORT"]
    );
    assert!(vars["FUNCTIONS_CUSTOMHANDLER_PORT"].is_string());
    let id = vars["FUNCTIONS_CUSTOMHANDLER_WORKER_ID"].as_str().unwrap();
    assert!(uuid::Uuid::try_parse(id).is_ok());
    assert_eq!(vars["FUNCTIONS_HTTPWORKER_ID"], json!(id));
    assert!(vars["FUNCTIONS_APP_ROOT_PATH"].is_string());
    app.stop().await;
}

// WorkerProcess.OnProcessExited: exit code 0 is not restarted.
#[tokio::test]
async fn a_handler_that_exits_with_code_0_is_not_restarted() {
    let app = spawn_with("app", |o| o).await;
    assert_eq!(app.get("/api/exit-clean").await.status(), 500);
    app.eventually(
        "the handler to be marked exited",
        Duration::from_secs(10),
        || {
            let state = app.host.handler().state();
            async move { (state == WorkerState::Exited).then_some(()) }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.host.handler().state(), WorkerState::Exited);
    assert_eq!(app.get("/api/items/1").await.status(), 500);
    app.stop().await;
}

// HttpFunctionInvocationDispatcher: the third worker error within 30 minutes stops the host.
#[tokio::test]
async fn three_crashes_stop_the_host_with_one_sentence() {
    let app = spawn_with("app", |o| o).await;
    for attempt in 1..=3 {
        let pid = app.host.handler_pid();
        assert_eq!(app.get("/api/crash").await.status(), 500, "crash {attempt}");
        if attempt < 3 {
            app.eventually("a restarted handler", Duration::from_secs(15), || {
                let now = app.host.handler_pid();
                async move { now.filter(|p| Some(*p) != pid) }
            })
            .await;
        }
    }
    let why = tokio::time::timeout(Duration::from_secs(10), app.host.handler().failed())
        .await
        .expect("the host did not give up after three crashes");
    assert!(
        why.starts_with("the custom handler failed 3 times, each within 30 minutes of the last"),
        "{why}"
    );
    assert!(why.ends_with("so the host stops, as Azure's does"), "{why}");
    let outcome = tokio::time::timeout(Duration::from_secs(20), app.host.run_until_signal())
        .await
        .expect("run_until_signal did not return after the handler failed");
    assert_eq!(outcome, Err(why));
}
