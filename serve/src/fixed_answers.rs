//! actix-http's own answers, made JSON on their way out.
//!
//! actix-http's HTTP/1 dispatcher (`src/h1/dispatcher.rs`, 3.19) answers some requests before
//! any service sees them, with a fixed empty answer: 400 for a request it cannot parse, 431 for
//! a head over its buffer, 408 for a head that does not arrive in time, 500 for a framing fault
//! of its own. It offers no hook to change them. [`Stream`] wraps each connection and rewrites
//! exactly those answers into the JSON error shape as they are written.
//!
//! A fixed answer is recognised by its bytes, which actix-http always writes the same way (the
//! tests pin them): a status line from `FIXED`, then only `content-length: 0`, an optional
//! `connection`, and `date`, at the very end of a write (the dispatcher writes nothing after
//! one). No answer of the app has that shape: [`mark_app_answer`] sees to it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use actix_http::StatusCode;
use actix_http::header::{HeaderMap, HeaderValue, X_CONTENT_TYPE_OPTIONS};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The answers the dispatcher writes itself: status line, error code, and what to tell the
/// client (`{timeout}` is the head timeout in seconds).
const FIXED: [(&[u8], &str, &str); 4] = [
    (
        b"400 Bad Request",
        "bad_request",
        "The request is not valid HTTP/1.1: check its request line, headers and framing.",
    ),
    (
        b"408 Request Timeout",
        "request_timeout",
        "The request headers did not arrive within {timeout} seconds.",
    ),
    (
        b"431 Request Header Fields Too Large",
        "headers_too_large",
        "The request headers are larger than the 128 KiB the server reads.",
    ),
    (
        b"500 Internal Server Error",
        "internal",
        "The server could not read the request.",
    ),
];

/// The longest fixed answer (`HTTP/1.1 431 …` with every header) is about 130 bytes.
const LONGEST_FIXED: usize = 192;

/// Makes sure an answer of the app cannot be taken for a fixed one: an empty answer of a
/// fixed status (a function may answer an empty 400) gets `x-content-type-options: nosniff`,
/// a header the dispatcher never writes.
pub fn mark_app_answer(status: StatusCode, empty: bool, headers: &mut HeaderMap) {
    let fixed = matches!(status.as_u16(), 400 | 408 | 431 | 500);
    if empty && fixed && !headers.contains_key(X_CONTENT_TYPE_OPTIONS) {
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    }
}

/// A fixed answer found at the end of a write.
#[derive(Debug, PartialEq, Eq)]
struct Found<'a> {
    /// Where its status line starts.
    start: usize,
    /// `HTTP/1.1` or `HTTP/1.0`.
    version: &'a [u8],
    /// Its entry in [`FIXED`].
    entry: usize,
    /// The value of its `date` header.
    date: &'a [u8],
}

/// The fixed answer `buf` ends with, if it ends with one.
fn find(buf: &[u8]) -> Option<Found<'_>> {
    if !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let from = buf.len().saturating_sub(LONGEST_FIXED);
    let start = from + rfind(&buf[from..], b"HTTP/1.")?;
    // Each line of the head with its CRLF, up to the empty line that ends it.
    let head = &buf[start..buf.len() - 2];
    let mut lines = head
        .split_inclusive(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r\n"));
    let status_line = lines.next()??;
    let (version, status) = status_line.split_at_checked(8)?;
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return None;
    }
    let entry = FIXED
        .iter()
        .position(|(line, _, _)| status.strip_prefix(b" ") == Some(*line))?;
    let (mut length, mut date) = (false, None);
    for line in lines {
        match line? {
            b"content-length: 0" => length = true,
            b"connection: close" | b"connection: keep-alive" => {}
            l if l.starts_with(b"date: ") => date = Some(&l[6..]),
            _ => return None,
        }
    }
    let date = date.filter(|_| length)?;
    Some(Found {
        start,
        version,
        entry,
        date,
    })
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// The JSON answer that replaces `found`. The connection is closed after it, as after the
/// fixed answer.
fn json_answer(found: &Found<'_>, head_timeout: Duration) -> Vec<u8> {
    let (line, code, message) = FIXED[found.entry];
    let message = message.replace("{timeout}", &head_timeout.as_secs().to_string());
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(found.version);
    out.push(b' ');
    out.extend_from_slice(line);
    out.extend_from_slice(b"\r\ncontent-type: application/json\r\n");
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(b"x-content-type-options: nosniff\r\nconnection: close\r\ndate: ");
    out.extend_from_slice(found.date);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body.as_bytes());
    out
}

/// A connection whose bytes pass through unchanged, but for actix-http's fixed answers.
#[derive(Debug)]
pub struct Stream<IO> {
    io: IO,
    head_timeout: Duration,
    /// A rewritten write not yet passed on, and how much of it has been.
    pending: Vec<u8>,
    sent: usize,
}

impl<IO> Stream<IO> {
    /// Wraps `io`; `head_timeout` is the dispatcher's, named in its 408.
    pub fn new(io: IO, head_timeout: Duration) -> Stream<IO> {
        Stream {
            io,
            head_timeout,
            pending: Vec::new(),
            sent: 0,
        }
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }
}

impl<IO: AsyncWrite + Unpin> Stream<IO> {
    /// Passes on what is left of a rewritten write.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending = Vec::new();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Stream<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Stream<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        // The dispatcher hands over the rest of its whole buffer on each write, so a fixed
        // answer, always written last, is whole at the end of the first write that holds it.
        if let Some(found) = find(buf) {
            let mut out = buf[..found.start].to_vec();
            out.extend_from_slice(&json_answer(&found, this.head_timeout));
            this.pending = out;
            // The bytes are ours now; what the socket does not take yet goes on flush.
            if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Tue, 01 Dec 2026 15:28:41 GMT";

    /// What actix-http 3.19 wrote for a request without Host, as read off the wire.
    fn bad_request() -> String {
        format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: {DATE}\r\n\r\n"
        )
    }

    #[test]
    fn finds_each_fixed_answer_at_the_end_of_a_write() {
        for (i, (line, _, _)) in FIXED.iter().enumerate() {
            let line = std::str::from_utf8(line).unwrap();
            let answer = format!("HTTP/1.1 {line}\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n");
            let buf = format!("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok{answer}");
            let found = find(buf.as_bytes()).expect(line);
            assert_eq!((found.start, found.entry), (buf.len() - answer.len(), i));
            assert_eq!(found.date, DATE.as_bytes());
        }
    }

    #[test]
    fn leaves_every_other_answer_alone() {
        let cases = [
            // An answer with a body, or with any header the dispatcher does not write.
            format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\ndate: {DATE}\r\n\r\n{{}}"),
            format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-custom: 1\r\ndate: {DATE}\r\n\r\n"
            ),
            // Statuses the dispatcher never writes itself.
            format!("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n"),
            "HTTP/1.1 100 Continue\r\n\r\n".to_string(),
            // A fixed answer followed by anything is not at the end of the write.
            format!("{}x", bad_request()),
            // No date, no length, another version.
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n".to_string(),
            format!("HTTP/1.1 400 Bad Request\r\ndate: {DATE}\r\n\r\n"),
            format!("HTTP/2.0 400 Bad Request\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n"),
        ];
        for case in cases {
            assert_eq!(find(case.as_bytes()), None, "{case:?}");
        }
    }

    #[test]
    fn the_json_answer_keeps_status_version_and_date_and_closes() {
        let buf = bad_request();
        let found = find(buf.as_bytes()).unwrap();
        let answer = String::from_utf8(json_answer(&found, Duration::from_secs(5))).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(
            head.contains("\r\ncontent-type: application/json\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
        assert!(head.ends_with(&format!("\r\ndate: {DATE}")), "{head}");
        assert!(head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["code"], "bad_request");
    }

    #[test]
    fn the_408_names_the_head_timeout() {
        let buf = format!(
            "HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\ndate: {DATE}\r\n\r\n"
        );
        let found = find(buf.as_bytes()).unwrap();
        let answer = String::from_utf8(json_answer(&found, Duration::from_secs(7))).unwrap();
        assert!(answer.contains("within 7 seconds"), "{answer}");
    }

    #[test]
    fn an_empty_app_answer_of_a_fixed_status_is_marked_and_no_longer_found() {
        for (status, empty, marked) in [
            (400, true, true),
            (500, true, true),
            (400, false, false),
            (404, true, false),
        ] {
            let mut headers = HeaderMap::new();
            mark_app_answer(StatusCode::from_u16(status).unwrap(), empty, &mut headers);
            assert_eq!(
                headers.contains_key(X_CONTENT_TYPE_OPTIONS),
                marked,
                "{status}"
            );
        }
        let marked = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-content-type-options: nosniff\r\ndate: {DATE}\r\n\r\n"
        );
        assert_eq!(find(marked.as_bytes()), None);
    }
}
