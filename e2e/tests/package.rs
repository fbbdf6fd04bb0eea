//! What ships is what was tested: build the two zips as the pipeline does, check their
//! layout and file modes, unpack the function app, run the local host on it, call `predict`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use xtask::package::{self, Entry, Options};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Killed(Child);
impl Drop for Killed {
    /// SIGTERM first, so the local host stops its handler too; SIGKILL if it lingers.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mode_of(entries: &[Entry], name: &str) -> u32 {
    entries
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("{name} is missing from the package: {entries:?}"))
        .mode
}

#[test]
fn the_packages_run_under_the_local_host_as_shipped() {
    let azurite = std::env::var("AZURITE_CONNECTION_STRING").unwrap_or_else(|_| {
        panic!("AZURITE_CONNECTION_STRING is not set: run ./scripts/test.sh, or eval \"$(scripts/azurite.sh start)\" first")
    });
    let out = std::env::temp_dir().join(format!("e2e-package-{}", uuid::Uuid::new_v4()));
    let packages = package::package(&Options {
        root: repo(),
        out: out.clone(),
        skip_build: false,
    })
    .unwrap();

    // functionapp.zip: host.json, one folder per function, the handler where host.json says.
    let entries = package::entries(&packages.functionapp).unwrap();
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "handler",
            "host.json",
            "housekeeping/function.json",
            "job-status/function.json",
            "predict/function.json",
            "queue-upload/function.json",
            "score-job/function.json",
            "score-upload/function.json",
            "submit-job/function.json",
        ]
    );
    assert_eq!(
        mode_of(&entries, "handler"),
        0o755,
        "the run bit survives in the zip"
    );
    assert_eq!(mode_of(&entries, "host.json"), 0o644);
    let handler_size = entries.iter().find(|e| e.name == "handler").unwrap().size;
    assert!(
        handler_size < 15_000_000,
        "the handler is {handler_size} bytes"
    );

    // webapp.zip: the binary and a startup script that execs it, both executable.
    let web = package::entries(&packages.webapp).unwrap();
    assert_eq!(web.len(), 2, "{web:?}");
    assert_eq!(mode_of(&web, "webapp"), 0o755);
    assert_eq!(mode_of(&web, "startup.sh"), 0o755);

    // Unpack as Azure does and check the binaries are what we claim: static, stripped, and
    // allocating with jemalloc rather than musl's allocator.
    let app = out.join("functionapp");
    package::unpack(&packages.functionapp, &app).unwrap();
    package::check_binary(&app.join("handler")).unwrap();
    let site = out.join("wwwroot");
    package::unpack(&packages.webapp, &site).unwrap();
    package::check_binary(&site.join("webapp")).unwrap();
    // The same binary without jemalloc's marks is refused, in one sentence.
    let mut bytes = std::fs::read(site.join("webapp")).unwrap();
    for at in 0..bytes.len().saturating_sub(11) {
        if &bytes[at..at + 11] == b"<jemalloc>:" {
            bytes[at + 1] = b'J';
        }
    }
    let plain = out.join("webapp-without-jemalloc");
    std::fs::write(&plain, &bytes).unwrap();
    let refused = package::check_binary(&plain).unwrap_err();
    assert!(
        refused.contains("does not allocate with jemalloc"),
        "{refused}"
    );
    let startup = std::fs::read_to_string(site.join("startup.sh")).unwrap();
    assert!(startup.lines().any(|l| l.starts_with("exec ")), "{startup}");

    // The local host runs the unpacked app, and `predict` answers through it.
    let local_host = xtask::build_binaries(&repo(), false)
        .unwrap()
        .join("local-host");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _host = Killed(
        Command::new(local_host)
            .args(["start", "--app-dir"])
            .arg(&app)
            .args(["--port", &port.to_string()])
            .env("AzureWebJobsStorage", &azurite)
            .env("FUNCTIONS_KEY", "package-test-key")
            .env("HOUSEKEEPING_SCHEDULE", "0 0 3 * * *")
            .spawn()
            .unwrap(),
    );
    let client = reqwest::blocking::Client::new();
    let payload = r#"{"CHAS":{"0":0},"RM":{"0":6.575},"TAX":{"0":296.0},"PTRATIO":{"0":15.3},"B":{"0":396.9},"LSTAT":{"0":4.98}}"#;
    let start = Instant::now();
    let answer = loop {
        let res = client
            .post(format!("http://127.0.0.1:{port}/api/predict"))
            .header("x-functions-key", "package-test-key")
            .header("Content-Type", "application/json")
            .body(payload)
            .send();
        match res {
            Ok(r) if r.status() == 200 => break r.json::<serde_json::Value>().unwrap(),
            _ if start.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(100))
            }
            other => panic!("predict never answered 200 through the unpacked app: {other:?}"),
        }
    };
    let price = answer["prediction"][0].as_f64().unwrap();
    assert!((price - 24.0).abs() < 3.0, "{price}");
    let _ = std::fs::remove_dir_all(&out);
}
