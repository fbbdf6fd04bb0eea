//! Slow bodies (issue 9, finding 2): a body that does not arrive within `BODY_TIMEOUT_SECS`
//! is a JSON 408 and its connection is closed, so slow clients cannot hold connections, and
//! the descriptors behind them, for ever.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{
    ORIGINAL_CLIENT_PAYLOAD, free_port, spawn_app_with, spawn_webapp_process_with,
};

/// Headers of a `POST /predict` whose 1,000-byte body is still to come.
const SLOW_HEAD: &[u8] = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";

/// Reads until the peer closes; returns what arrived.
fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the connection was not closed: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON error of a raw response, with its status.
fn json_error(response: &str) -> (u16, Value) {
    let status = response[9..12].parse().unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{response}"
    );
    (status, serde_json::from_str(body).unwrap())
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_a_json_408_and_the_connection_closes() {
    let app = spawn_app_with(|s| s.body_timeout = Duration::from_secs(1)).await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(SLOW_HEAD).unwrap();
        stream.write_all(b"{\"CHAS\"").unwrap();
        let started = Instant::now();
        let response = read_to_close(&mut stream);
        (response, started.elapsed())
    })
    .await
    .unwrap();
    let (response, waited) = response;
    let (status, body) = json_error(&response);
    assert_eq!(status, 408, "{response}");
    assert_eq!(body["error"]["code"], "body_timeout", "{response}");
    assert_eq!(
        body["error"]["message"],
        "the request body did not arrive within 1 s: send it at once, or a smaller one"
    );
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response}"
    );
    assert!(
        waited >= Duration::from_millis(900),
        "answered after {waited:?}"
    );
}

/// One slow client: it sends a byte of its body now and then, until the server answers.
struct Slow {
    stream: TcpStream,
    answer: Option<String>,
}

impl Slow {
    fn open(port: u16) -> Slow {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(SLOW_HEAD).unwrap();
        stream.set_nonblocking(true).unwrap();
        Slow {
            stream,
            answer: None,
        }
    }

    /// Sends one more byte unless the answer has come; reads the answer once it has.
    fn trickle(&mut self) {
        if self.answer.is_some() {
            return;
        }
        let mut peek = [0u8; 1];
        match self.stream.peek(&mut peek) {
            Ok(_) => {
                self.stream.set_nonblocking(false).unwrap();
                self.stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                self.answer = Some(read_to_close(&mut self.stream));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let _ = self.stream.write(b" ");
            }
            Err(e) => panic!("a slow client's connection failed without an answer: {e}"),
        }
    }
}

/// The time of one `POST /predict` on a keep-alive connection.
fn timed_predict(client: &reqwest::blocking::Client, url: &str) -> Duration {
    let started = Instant::now();
    let response = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(ORIGINAL_CLIENT_PAYLOAD)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().unwrap();
    started.elapsed()
}

fn p99(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[(times.len() * 99).div_ceil(100) - 1]
}

#[test]
fn five_hundred_slow_clients_get_408s_and_do_not_starve_other_requests() {
    const SLOW_CLIENTS: usize = 500;
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_webapp"));
    command.env("BODY_TIMEOUT_SECS", "2");
    // App Service's default descriptor limit: 500 slow clients are half of it.
    unsafe {
        command.pre_exec(|| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, 1024, 1024)
                .map_err(std::io::Error::from)
        });
    }
    let mut server = spawn_webapp_process_with(port, Stdio::null(), command);
    let url = format!("http://127.0.0.1:{port}/predict");
    let client = reqwest::blocking::Client::new();
    let quiet: Vec<Duration> = (0..200).map(|_| timed_predict(&client, &url)).collect();

    let mut slow: Vec<Slow> = (0..SLOW_CLIENTS).map(|_| Slow::open(port)).collect();
    let started = Instant::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let others = {
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let mut times = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                times.push(timed_predict(&client, &url));
            }
            times
        })
    };
    while slow.iter().any(|s| s.answer.is_none()) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "slow clients still connected after 30 s"
        );
        slow.iter_mut().for_each(Slow::trickle);
        std::thread::sleep(Duration::from_millis(100));
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let loaded = others.join().unwrap();
    let _ = server.kill();
    let _ = server.wait();

    for s in &slow {
        let answer = s.answer.as_deref().unwrap();
        let (status, body) = json_error(answer);
        assert_eq!(status, 408, "{answer}");
        assert_eq!(body["error"]["code"], "body_timeout");
    }
    eprintln!(
        "POST /predict p99: {:?} alone ({} requests), {:?} beside {SLOW_CLIENTS} slow clients ({} requests); all slow clients answered 408 within {:?}",
        p99(quiet),
        200,
        p99(loaded.clone()),
        loaded.len(),
        started.elapsed()
    );
}
