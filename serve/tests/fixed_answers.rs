//! A real server on loopback, spoken to over raw connections: actix-http's own answers arrive
//! as JSON errors, and every answer the app makes arrives as the app made it.
//! The fixed answers follow actix-http 3.19 `src/h1/dispatcher.rs` (parse errors, a head over
//! the buffer, the head timer).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use actix_web::{App, HttpResponse, web};
use serde_json::Value;

/// Serves a small app in its own runtime; the thread ends with the test process.
fn start(head_timeout: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let options = serve::Options {
        workers: Some(1),
        head_timeout,
        ..serve::Options::default()
    };
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let serving = serve::serve(listener, &options, || {
                App::new()
                    .route(
                        "/ok",
                        web::get().to(|| async { HttpResponse::Ok().body("ok") }),
                    )
                    // An app may answer an empty 400 itself (a function can): it must stay so.
                    .route(
                        "/empty-400",
                        web::get().to(|| async { HttpResponse::BadRequest().finish() }),
                    )
                    // The same through the error path: an error the app answers itself.
                    .route(
                        "/error-400",
                        web::get().to(|| async {
                            Err::<HttpResponse, _>(actix_web::error::InternalError::from_response(
                                "refused",
                                HttpResponse::BadRequest().finish(),
                            ))
                        }),
                    )
            })
            .unwrap();
            serving.server.await.unwrap();
        })
    });
    address
}

/// Sends `bytes` on a new connection and reads until the server closes it.
fn exchange(address: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            // A reset after the answer: the server closed with part of the request unread.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the answer: {e}"),
        }
    }
    answer
}

/// Splits a raw stream into its answers (heads and bodies by `content-length`).
fn answers(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(rest)));
        let head = String::from_utf8(rest[..end].to_vec()).unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(0, |n| n.parse().unwrap());
        let body = rest[end + 4..end + 4 + length].to_vec();
        rest = &rest[end + 4 + length..];
        out.push((head, body));
    }
    out
}

fn assert_json_error(head: &str, body: &[u8], status_line: &str, code: &str) -> String {
    assert!(head.starts_with(status_line), "{head}");
    assert!(
        head.contains("\r\ncontent-type: application/json\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
    let error: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(error["error"]["code"], code, "{error}");
    error["error"]["message"].as_str().unwrap().to_owned()
}

#[test]
fn a_request_actix_http_cannot_parse_gets_a_json_400() {
    let address = start(Duration::from_secs(5));
    for bytes in [
        &b"GET /ok HTTP/1.1\r\n\r\n"[..],
        b"GET /ok HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"\x00\x01\x02 nonsense\r\n\r\n",
    ] {
        let raw = exchange(address, bytes);
        let answers = answers(&raw);
        assert_eq!(answers.len(), 1, "{}", String::from_utf8_lossy(&raw));
        assert_json_error(
            &answers[0].0,
            &answers[0].1,
            "HTTP/1.1 400 Bad Request\r\n",
            "bad_request",
        );
    }
}

#[test]
fn a_head_over_the_buffer_gets_a_json_431() {
    let address = start(Duration::from_secs(5));
    let mut request = b"GET /ok HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 200 * 1024));
    request.extend_from_slice(b"\r\n\r\n");
    let raw = exchange(address, &request);
    let answers = answers(&raw);
    assert_json_error(
        &answers[0].0,
        &answers[0].1,
        "HTTP/1.1 431 Request Header Fields Too Large\r\n",
        "headers_too_large",
    );
}

#[test]
fn a_head_that_does_not_arrive_in_time_gets_a_json_408_naming_the_timeout() {
    let address = start(Duration::from_secs(1));
    let raw = exchange(address, b"GET /ok HTTP/1.1\r\nHo");
    let answers = answers(&raw);
    let message = assert_json_error(
        &answers[0].0,
        &answers[0].1,
        "HTTP/1.1 408 Request Timeout\r\n",
        "request_timeout",
    );
    assert!(message.contains("within 1 seconds"), "{message}");
}

#[test]
fn the_app_s_answers_stay_the_app_s_even_an_empty_400_before_a_fixed_one() {
    let address = start(Duration::from_secs(5));
    // Pipelined: two answers from the app, then garbage the dispatcher answers itself.
    let raw = exchange(
        address,
        b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /empty-400 HTTP/1.1\r\nHost: a\r\n\r\nGET /error-400 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    );
    let answers = answers(&raw);
    assert_eq!(answers.len(), 4, "{}", String::from_utf8_lossy(&raw));
    assert!(answers[0].0.starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(answers[0].1, b"ok");
    // The app's empty 400 stays empty, with `nosniff` to tell it from the dispatcher's.
    let (head, body) = &answers[1];
    assert!(
        head.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nx-content-type-options: nosniff\r\n"),
        "{head}"
    );
    assert!(!head.contains("content-type:"), "{head}");
    assert!(body.is_empty());
    let (head, body) = &answers[2];
    assert!(
        head.contains("\r\nx-content-type-options: nosniff\r\n"),
        "{head}"
    );
    assert!(body.is_empty(), "{head}");
    assert_json_error(
        &answers[3].0,
        &answers[3].1,
        "HTTP/1.1 400 Bad Request\r\n",
        "bad_request",
    );
}

#[test]
fn a_keep_alive_connection_serves_request_after_request() {
    let address = start(Duration::from_secs(5));
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    for _ in 0..3 {
        stream
            .write_all(b"GET /empty-400 HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        let mut buf = [0; 1024];
        let n = stream.read(&mut buf).unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n"),
            "{answer}"
        );
    }
}
