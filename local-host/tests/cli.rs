//! The real `local-host` binary: configuration errors are one sentence and exit code 1, and a
//! started host stops on SIGTERM leaving nothing running.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs `local-host start` against a broken fixture; returns its stderr after checking the
/// exit code is 1 and the message is one line.
fn start_fails(broken: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_local-host"))
        .args(["start", "--port", "0", "--app-dir"])
        .arg(fixture(&format!("broken/{broken}")))
        .env_remove("AzureWebJobsStorage")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{broken}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{broken}: {stderr}");
    stderr
}

#[test]
fn a_bad_host_json_names_the_file_and_the_field() {
    let err = start_fails("bad-host-json");
    assert!(
        err.contains("bad-host-json/host.json: is not a valid host.json"),
        "{err}"
    );
    assert!(err.contains("invalid type"), "{err}");
}

#[test]
fn a_host_json_without_a_custom_handler_is_refused() {
    let err = start_fails("no-custom-handler");
    assert!(
        err.contains("host.json: has no `customHandler.description.defaultExecutablePath`"),
        "{err}"
    );
}

/// An extension's binding (here Cosmos DB) is valid `function.json` for the real host, but
/// the local host has nothing to run it against.
#[test]
fn an_extension_binding_is_refused_naming_the_function_json_and_the_type() {
    let err = start_fails("extension-binding");
    assert!(
        err.contains("cosmos/function.json: the binding `changes` has type `cosmosDBTrigger`, which the local host does not run"),
        "{err}"
    );
}

/// The runtime declares Event Hubs and Service Bus triggers; the local host has no broker to
/// run them against, and says so instead of serving a function that never fires.
#[test]
fn a_trigger_the_local_host_does_not_run_is_refused_by_name() {
    let err = start_fails("not-run-locally");
    assert!(
        err.contains("hub/function.json: the binding `events` has type `eventHubTrigger`, which the local host does not run"),
        "{err}"
    );
}

#[test]
fn a_missing_connection_setting_names_the_binding_and_the_setting() {
    let err = start_fails("missing-connection");
    assert!(
        err.contains(
            "work/function.json: the binding `job` uses the storage connection `JobsStorage`"
        ),
        "{err}"
    );
    assert!(err.contains("set JobsStorage"), "{err}");
}

#[test]
fn a_function_folder_without_function_json_is_refused() {
    let err = start_fails("no-function-json");
    assert!(
        err.contains("no-function-json/orphan: has no function.json"),
        "{err}"
    );
}

#[test]
fn a_missing_executable_names_the_field_and_the_path() {
    let err = start_fails("missing-executable");
    assert!(
        err.contains(
            "host.json: `customHandler.description.defaultExecutablePath` names `handler`"
        ),
        "{err}"
    );
}

#[test]
fn a_non_string_setting_names_the_value() {
    let err = start_fails("bad-settings");
    assert!(
        err.contains("local.settings.json: `Values.PORT` must be a string"),
        "{err}"
    );
}

#[test]
fn an_unset_app_setting_in_a_binding_names_the_setting() {
    let err = start_fails("unresolved-setting");
    assert!(err.contains("the binding `job` field `queueName`"), "{err}");
    assert!(err.contains("`JOBS_QUEUE_NAME`, which is not set"), "{err}");
}

#[test]
fn a_five_field_schedule_is_refused() {
    let err = start_fails("bad-schedule");
    assert!(
        err.contains("field `schedule`: the schedule `*/5 * * * *` has 5 fields"),
        "{err}"
    );
}

#[test]
fn a_missing_app_directory_is_one_sentence() {
    let output = Command::new(env!("CARGO_BIN_EXE_local-host"))
        .args(["start", "--app-dir", "/nonexistent/app"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.trim_end(),
        "/nonexistent/app: is not a directory; pass the app directory with --app-dir"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn start_serves_until_sigterm_and_leaves_nothing_running() {
    let azurite = std::env::var("AZURITE_CONNECTION_STRING").unwrap_or_else(|_| {
        panic!("AZURITE_CONNECTION_STRING is not set: start Azurite with `eval \"$(scripts/azurite.sh start)\"`")
    });
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture("app"), dir.path());
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_test-echo-handler"),
        dir.path().join("handler"),
    )
    .unwrap();
    let pid_file = dir.path().join("handler.pid");
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let mut child = Command::new(env!("CARGO_BIN_EXE_local-host"))
        .args(["start", "--port", "0", "--app-dir"])
        .arg(dir.path())
        // The environment wins over local.settings.json, as with Core Tools.
        .env("AzureWebJobsStorage", &azurite)
        .env("JOBS_QUEUE", format!("cli-jobs-{suffix}"))
        .env("TEST_HANDLER_PID_FILE", &pid_file)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the host did not report that it started");
        if let Some(url) = line.split("Host started: ").nth(1) {
            break url.trim().to_string();
        }
    };
    let response = reqwest::blocking::get(format!("{url}/api/items/9")).unwrap();
    assert_eq!(response.status(), 200);
    let handler_pid = std::fs::read_to_string(&pid_file).unwrap();

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the host did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(
        !Path::new(&format!("/proc/{}", handler_pid.trim())).exists(),
        "the handler {handler_pid} is still running"
    );
}
