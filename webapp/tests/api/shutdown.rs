//! SIGTERM (App Service stopping the app): in-flight requests finish, new connections are
//! refused, and the process exits 0 within App Service's 5 s grace period, its log written.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use drain::loader::{self, HalfSent, read_response};

use crate::helpers::{ORIGINAL_CLIENT_PAYLOAD, free_port, spawn_webapp_process};

/// Kills the server if the test fails before it exits by itself.
struct Server(Child);

impl Server {
    /// Waits for the exit App Service allows: code 0 within 5 s of the signal.
    fn exits_0_within_5_s_of(&mut self, signalled: Instant) {
        let status = loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                signalled.elapsed() < Duration::from_secs(5),
                "still running 5 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(0));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_0() {
    let port = free_port();
    let mut server = Server(spawn_webapp_process(port, Stdio::piped()));

    // A request whose body is only half sent when the signal arrives.
    let request = HalfSent::start(port, ORIGINAL_CLIENT_PAYLOAD.as_bytes()).unwrap();

    let signalled = Instant::now();
    kill(Pid::from_raw(server.0.id() as i32), Signal::SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // No new connections once stopping.
    let refused =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1));
    match refused {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}"),
        Ok(_) => panic!("a new connection was accepted after SIGTERM"),
    }

    // The in-flight request still gets its answer.
    let response = request.finish().unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("{\"prediction\":["), "{response}");

    server.exits_0_within_5_s_of(signalled);

    // One access-log line per request on stdout (at the default level), written out by exit.
    let mut stdout = String::new();
    server
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let requests: Vec<&str> = stdout.lines().filter(|l| l.contains("\" 200 ")).collect();
    assert_eq!(requests.len(), 1, "{stdout}");
    // The line, field by field (`webapp/src/access_log.rs`): the bytes sent, and the time
    // from the head to the last byte, which covers the 300 ms the body was held back.
    let (stamp, fields) = requests[0].split_once("] ").unwrap();
    assert!(
        stamp.starts_with("[20") && stamp.ends_with("Z INFO  webapp::access_log"),
        "{stdout}"
    );
    let body = response.split_once("\r\n\r\n").unwrap().1;
    let expected = format!(
        "127.0.0.1 \"POST /predict HTTP/1.1\" 200 {} \"-\" ",
        body.len()
    );
    let seconds = fields.strip_prefix(&expected).expect(&stdout);
    let seconds: f64 = seconds.parse().expect(&stdout);
    assert!((0.3..5.0).contains(&seconds), "{stdout}");
}

/// `POST /predict?tag=...` with the original client's payload.
fn tagged_predict(tag: &str) -> Vec<u8> {
    let body = ORIGINAL_CLIENT_PAYLOAD;
    format!(
        "POST /predict?tag={tag} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn sigterm_under_keep_alive_load_answers_every_request_the_server_read() {
    let port = free_port();
    let mut server = Server(spawn_webapp_process(port, Stdio::piped()));
    // Read the access log as it is written, so a full pipe never blocks the server.
    let mut log = server.0.stdout.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        log.read_to_string(&mut text).map(|_| text)
    });
    let loaders = loader::start(port, 64, tagged_predict);
    std::thread::sleep(Duration::from_millis(1500));
    let signalled = Instant::now();
    kill(Pid::from_raw(server.0.id() as i32), Signal::SIGTERM).unwrap();
    let load = loaders.finish();
    server.exits_0_within_5_s_of(signalled);
    let stdout = log.join().unwrap().unwrap();
    let served: std::collections::HashSet<&str> = stdout
        .lines()
        .filter_map(|l| l.split("/predict?tag=").nth(1))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    let answered = load.answered.len();
    let unanswered = &load.unanswered;
    let lost: Vec<&String> = unanswered
        .iter()
        .filter(|t| served.contains(t.as_str()))
        .collect();
    assert!(lost.is_empty(), "served but never answered: {lost:?}");
    // The drain answers each connection's next request with `Connection: close`, and the
    // loader's reconnect is refused: no request is left without an answer at all. Before the
    // drain, actix closed idle connections at once and 0 to 17 requests per run got a reset.
    assert!(
        unanswered.is_empty(),
        "reset without an answer: {unanswered:?}"
    );
    assert_eq!(served.len(), answered, "{stdout}");
    assert!(answered > 64, "the load did not run: {answered} answers");
}

#[test]
fn an_idle_keep_alive_connection_gets_its_next_request_answered_after_sigterm() {
    let port = free_port();
    let server = Server(spawn_webapp_process(port, Stdio::null()));
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    stream.write_all(request).unwrap();
    assert_eq!(read_response(&mut stream), Some((200, false)));

    kill(Pid::from_raw(server.0.id() as i32), Signal::SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The connection was idle when the signal came; its next request is still answered, and
    // the answer says the connection closes.
    stream.write_all(request).unwrap();
    assert_eq!(read_response(&mut stream), Some((200, true)));
}
