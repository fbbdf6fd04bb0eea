//! The access log: one line per request on stdout, in env_logger's layout, as
//! `[time INFO  webapp::access_log] client "METHOD /path?query HTTP/1.1" status bytes
//! "user agent" seconds`.
//!
//! actix-web's `Logger` formats the same fields, but per request it clones its format, makes a
//! `String` of each field, and goes through `log` and env_logger's formatter (a timestamp
//! formatted from scratch, a filter match, a styled writer). On a one-row `/predict` that was
//! a fifth of the server's time. This writes the line straight into the log buffer
//! ([`crate::telemetry`]), reusing one buffer per thread and the second's timestamp.
//!
//! The line is written when the response body has been sent (or dropped), so `bytes` counts
//! what was sent and `seconds` includes sending it, as with `Logger`. Fields a client chooses
//! (path, query, user agent) are escaped, so no request can forge a field or a line.

use std::cell::RefCell;
use std::future::{Ready, ready};
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use actix_web::Error;
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{FORWARDED, USER_AGENT, X_FORWARDED_FOR};
use actix_web::web::Bytes;

use crate::telemetry;

/// The `log` target the lines carry; `RUST_LOG=webapp::access_log=off` turns them off.
pub const TARGET: &str = "webapp::access_log";

/// The middleware. Wrap it outermost, so it sees every answer, errors of inner middleware
/// included.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessLog;

impl<S, B> Transform<S, ServiceRequest> for AccessLog
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<Logged<B>>;
    type Error = Error;
    type Transform = AccessLogService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        // Asked once per worker: the filter does not change while the server runs.
        let enabled = log::log_enabled!(target: TARGET, log::Level::Info);
        ready(Ok(AccessLogService { service, enabled }))
    }
}

/// [`AccessLog`] around one worker's app.
#[derive(Debug)]
pub struct AccessLogService<S> {
    service: S,
    enabled: bool,
}

impl<S, B> Service<ServiceRequest> for AccessLogService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<Logged<B>>;
    type Error = Error;
    type Future = Answer<S::Future>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        // The request's fields are taken now: the request is the router's until it answers,
        // and an inner middleware's error comes back without it.
        let line = self.enabled.then(|| Line::start(&req));
        Answer {
            inner: self.service.call(req),
            line,
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's answer, on its way to getting its [`Line`].
    pub struct Answer<F> {
        #[pin]
        inner: F,
        line: Option<Line>,
    }
}

impl<F, B> Future for Answer<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<Logged<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output<B>> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let mut line = this.line.take();
        match result {
            Ok(response) => {
                if let Some(line) = line.as_mut() {
                    line.status = response.status().as_u16();
                }
                Poll::Ready(Ok(response.map_body(|_, body| Logged { body, line })))
            }
            // An inner middleware's error: actix-http answers it with its error response, so
            // the line is written now with that answer's status and size.
            Err(e) => {
                if let Some(line) = line.as_mut() {
                    let answer = e.error_response();
                    line.status = answer.status().as_u16();
                    if let BodySize::Sized(n) = answer.body().size() {
                        line.bytes = n;
                    }
                }
                Poll::Ready(Err(e))
            }
        }
    }
}

type Output<B> = Result<ServiceResponse<Logged<B>>, Error>;

pin_project_lite::pin_project! {
    /// A response body that writes the request's line once it is sent or dropped.
    pub struct Logged<B> {
        #[pin]
        body: B,
        line: Option<Line>,
    }
}

impl<B: MessageBody> MessageBody for Logged<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let next = std::task::ready!(this.body.poll_next(cx));
        if let (Some(Ok(chunk)), Some(line)) = (&next, this.line.as_mut()) {
            line.bytes += chunk.len() as u64;
        }
        Poll::Ready(next)
    }

    fn try_into_bytes(self) -> Result<Bytes, Self> {
        let Logged { body, mut line } = self;
        match body.try_into_bytes() {
            Ok(bytes) => {
                if let Some(line) = line.as_mut() {
                    line.bytes += bytes.len() as u64;
                }
                // The line is written as `line` drops, the whole body in hand.
                Ok(bytes)
            }
            Err(body) => Err(Logged { body, line }),
        }
    }
}

/// One request's line, written out on drop.
pub struct Line {
    /// `client "METHOD /path?query HTTP/1.1"` then ` "user agent"`, escaped; split at `agent`.
    fields: Vec<u8>,
    agent: usize,
    start: Instant,
    status: u16,
    bytes: u64,
}

impl Line {
    fn start(req: &ServiceRequest) -> Line {
        let mut fields = Vec::with_capacity(128);
        client(req, &mut fields);
        fields.extend_from_slice(b" \"");
        fields.extend_from_slice(req.method().as_str().as_bytes());
        fields.push(b' ');
        escaped(&mut fields, req.path().as_bytes());
        if !req.query_string().is_empty() {
            fields.push(b'?');
            escaped(&mut fields, req.query_string().as_bytes());
        }
        // Writing to a Vec cannot fail.
        let _ = write!(fields, " {:?}\"", req.version());
        let agent = fields.len();
        fields.extend_from_slice(b" \"");
        match req.headers().get(USER_AGENT) {
            Some(agent) => escaped(&mut fields, agent.as_bytes()),
            None => fields.push(b'-'),
        }
        fields.push(b'"');
        Line {
            fields,
            agent,
            start: Instant::now(),
            status: 0,
            bytes: 0,
        }
    }

    fn render(&self, out: &mut Vec<u8>, micros: u128, now: SystemTime) {
        out.push(b'[');
        write_second(out, now);
        out.extend_from_slice(b" INFO  ");
        out.extend_from_slice(TARGET.as_bytes());
        out.extend_from_slice(b"] ");
        out.extend_from_slice(&self.fields[..self.agent]);
        let _ = write!(out, " {} {}", self.status, self.bytes);
        out.extend_from_slice(&self.fields[self.agent..]);
        let _ = writeln!(out, " {}.{:06}", micros / 1_000_000, micros % 1_000_000);
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let micros = self.start.elapsed().as_micros();
        let now = SystemTime::now();
        // The thread's buffer, or a new one while it is out of reach (a drop during the
        // thread's teardown): never a panic.
        let reused = LINE.try_with(|cell| {
            let Ok(mut buf) = cell.try_borrow_mut() else {
                return false;
            };
            buf.clear();
            self.render(&mut buf, micros, now);
            telemetry::push_line(&buf);
            true
        });
        if !matches!(reused, Ok(true)) {
            let mut buf = Vec::with_capacity(256);
            self.render(&mut buf, micros, now);
            telemetry::push_line(&buf);
        }
    }
}

thread_local! {
    /// One line's bytes, reused by every request this thread serves.
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(256));
    /// The current second, formatted as env_logger formats it, and which second it is.
    static SECOND: RefCell<(u64, [u8; 20])> = const { RefCell::new((u64::MAX, [0; 20])) };
}

/// `2026-12-01T21:00:52Z`, formatted once a second per thread.
fn write_second(out: &mut Vec<u8>, now: SystemTime) {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cached = SECOND.try_with(|cell| {
        let Ok(mut cached) = cell.try_borrow_mut() else {
            return false;
        };
        let (second, text) = &mut *cached;
        if *second != secs {
            let stamp = stamp_of(secs);
            let mut formatted = Vec::with_capacity(20);
            let _ = write!(formatted, "{stamp:.0}");
            // Every second from 1970 to 9999 takes exactly 20 bytes.
            if let Ok(fixed) = <[u8; 20]>::try_from(formatted.as_slice()) {
                *text = fixed;
                *second = secs;
            } else {
                out.extend_from_slice(&formatted);
                return true;
            }
        }
        out.extend_from_slice(text);
        true
    });
    if !matches!(cached, Ok(true)) {
        let _ = write!(out, "{:.0}", stamp_of(secs));
    }
}

fn stamp_of(secs: u64) -> jiff::Timestamp {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// The client's address as actix-web's `ConnectionInfo::realip_remote_addr` gives it: the
/// first `for` of `Forwarded`, else the first address in `X-Forwarded-For`, else the peer's
/// IP. Without a `Forwarded` header (App Service's front end sends `X-Forwarded-For`) this
/// reads the header in place: `connection_info` builds four strings and a map entry per
/// request, for one field of one line.
fn client(req: &ServiceRequest, out: &mut Vec<u8>) {
    let headers = req.headers();
    if headers.contains_key(FORWARDED) {
        return match req.connection_info().realip_remote_addr() {
            Some(client) => escaped(out, client.as_bytes()),
            None => out.push(b'-'),
        };
    }
    // actix-web's `first_header_value`: the first header's first entry, trimmed, when the
    // header is text.
    let forwarded_for = headers
        .get(X_FORWARDED_FOR)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim);
    match (forwarded_for, req.peer_addr()) {
        (Some(client), _) => escaped(out, client.as_bytes()),
        // An IP address is printable ASCII: nothing to escape.
        (None, Some(peer)) => {
            let _ = write!(out, "{}", peer.ip());
        }
        (None, None) => out.push(b'-'),
    }
}

/// A client's bytes as printable ASCII: `"`, `\` and anything outside space to `~` become
/// `\xHH`, so a field cannot end early and a line cannot break.
fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        if (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\' {
            out.push(b);
        } else {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use std::time::Duration;

    fn line(req: TestRequest, status: u16, bytes: u64) -> String {
        let mut line = Line::start(&req.to_srv_request());
        line.status = status;
        line.bytes = bytes;
        let mut out = Vec::new();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_159_999);
        line.render(&mut out, 1_234_567, now);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_line_has_every_field_in_loggers_order_and_env_loggers_layout() {
        let req = TestRequest::post()
            .uri("/predict?tag=a")
            .peer_addr("10.1.2.3:5555".parse().unwrap())
            .insert_header((USER_AGENT, "curl/8.5"));
        assert_eq!(
            line(req, 200, 35),
            "[2026-12-01T21:19:59Z INFO  webapp::access_log] 10.1.2.3 \"POST /predict?tag=a HTTP/1.1\" 200 35 \"curl/8.5\" 1.234567\n"
        );
    }

    #[test]
    fn the_client_address_is_the_forwarded_one_and_a_missing_agent_is_a_dash() {
        let req = TestRequest::get()
            .uri("/health")
            .peer_addr("10.1.2.3:5555".parse().unwrap())
            .insert_header(("x-forwarded-for", "203.0.113.9, 10.0.0.1"));
        let text = line(req, 200, 2);
        assert!(
            text.contains("] 203.0.113.9 \"GET /health HTTP/1.1\" 200 2 \"-\" "),
            "{text}"
        );
    }

    #[test]
    fn the_client_address_is_the_one_actix_webs_connection_info_gives() {
        let peer: std::net::SocketAddr = "10.1.2.3:5555".parse().unwrap();
        let v6: std::net::SocketAddr = "[2001:db8::7]:443".parse().unwrap();
        type Headers<'a> = Vec<(&'a str, &'a [u8])>;
        let cases: Vec<(Option<std::net::SocketAddr>, Headers)> = vec![
            (Some(peer), vec![]),
            (Some(v6), vec![]),
            (None, vec![]),
            (
                Some(peer),
                vec![("x-forwarded-for", b"203.0.113.9, 10.0.0.1")],
            ),
            (Some(peer), vec![("x-forwarded-for", b"  203.0.113.9  ")]),
            (Some(peer), vec![("x-forwarded-for", b"")]),
            (Some(peer), vec![("x-forwarded-for", b",1.2.3.4")]),
            (Some(peer), vec![("x-forwarded-for", b"\xff1.2.3.4")]),
            (
                Some(peer),
                vec![
                    ("x-forwarded-for", b"198.51.100.1"),
                    ("x-forwarded-for", b"198.51.100.2"),
                ],
            ),
            (None, vec![("x-forwarded-for", b"[2001:db8::1]:80")]),
            (
                Some(peer),
                vec![("forwarded", b"for=192.0.2.60;proto=http")],
            ),
            (
                Some(peer),
                vec![
                    ("forwarded", b"by=x, For=\"[2001:db8:cafe::17]:4711\""),
                    ("x-forwarded-for", b"203.0.113.9"),
                ],
            ),
            (Some(peer), vec![("forwarded", b"proto=https")]),
        ];
        for (addr, headers) in cases {
            let mut req = TestRequest::get().uri("/");
            if let Some(addr) = addr {
                req = req.peer_addr(addr);
            }
            for (name, value) in &headers {
                req = req.append_header((
                    *name,
                    actix_web::http::header::HeaderValue::from_bytes(value).unwrap(),
                ));
            }
            let req = req.to_srv_request();
            let mut ours = Vec::new();
            client(&req, &mut ours);
            let mut theirs = Vec::new();
            match req.connection_info().realip_remote_addr() {
                Some(client) => escaped(&mut theirs, client.as_bytes()),
                None => theirs.push(b'-'),
            }
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap(),
                "{addr:?} {headers:?}"
            );
        }
    }

    #[test]
    fn client_chosen_bytes_cannot_forge_a_field_or_a_line() {
        let req = TestRequest::get().uri("/x%22y").insert_header((
            USER_AGENT,
            actix_web::http::header::HeaderValue::from_bytes(b"a\" 500 9 \"b\\\xff").unwrap(),
        ));
        let text = line(req, 404, 0);
        assert!(
            text.ends_with(
                "\"GET /x%22y HTTP/1.1\" 404 0 \"a\\x22 500 9 \\x22b\\x5C\\xFF\" 1.234567\n"
            ),
            "{text}"
        );
        assert_eq!(text.matches('"').count(), 4, "{text}");
    }

    #[test]
    fn the_second_is_formatted_as_env_logger_formats_it() {
        for secs in [0, 951_782_400, 1_796_159_999, 4_102_444_799] {
            let mut out = Vec::new();
            write_second(&mut out, SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
            let expected = jiff::Timestamp::from_second(secs as i64).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), format!("{expected:.0}"));
        }
        let mut out = Vec::new();
        write_second(
            &mut out,
            SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400),
        );
        assert_eq!(out, b"2000-02-29T00:00:00Z");
    }
}
