//! The route table and request handlers: readiness, the JSON protocol, and forwarded HTTP.
//!
//! The one rule that shapes this file: the host only uses Outputs when the handler answers 2xx.
//! Any other status fails the invocation, the host discards Outputs and Logs, and a queue message
//! is retried. So a function that wants to tell its HTTP caller "400" still answers the host 200,
//! with the 400 inside its `http` output; only transient failures answer non-2xx on purpose.

use crate::function::{ErrorKind, Handler, HandlerFuture, Invocation, InvocationError};
use crate::protocol::http::is_binary_content_type;
use crate::protocol::{HttpRequest, HttpResponse, InvocationRequest, InvocationResponse};
use crate::route::RouteTemplate;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpResponse as ActixResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use serve::body::BodyError;
use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The header carrying the host's id for an invocation.
const INVOCATION_ID_HEADER: &str = "X-Azure-Functions-InvocationId";

/// A declared function, ready to run.
pub(crate) struct Registered {
    pub(crate) name: String,
    pub(crate) handler: Arc<dyn Handler>,
    /// Names of `http` output bindings, which get an HTTP answer even when the function fails.
    pub(crate) http_outputs: Vec<String>,
    /// The declaration, which says how each input is decoded.
    pub(crate) bindings: Arc<[crate::bindings::Binding]>,
}

/// A forwardable function's route.
pub(crate) struct ForwardRoute {
    pub(crate) function: Arc<Registered>,
    pub(crate) template: RouteTemplate,
    pub(crate) trigger: crate::bindings::HttpTrigger,
    pub(crate) output: String,
    /// The function's own body limit, else the app's.
    pub(crate) body_limit: usize,
}

/// Everything the handlers share, built once before the workers start.
pub(crate) struct State {
    pub(crate) functions: Vec<Arc<Registered>>,
    pub(crate) forward_routes: Vec<ForwardRoute>,
    /// `None` when forwarding is off; otherwise the route prefix (never empty).
    pub(crate) forward_prefix: Option<String>,
    pub(crate) body_limit: usize,
    pub(crate) body_timeout: std::time::Duration,
}

impl State {
    fn function(&self, name: &str) -> Option<&Arc<Registered>> {
        // The host sends the folder name; Azure treats function names case-insensitively.
        self.functions.iter().find(|f| f.name == name).or_else(|| {
            self.functions
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(name))
        })
    }
}

/// The route table; the server and nothing else calls it, so what tests hit is what runs.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(ready))
        .route("/{function}", web::post().to(invoke))
        .default_service(web::to(forward));
}

/// The host polls `GET /` until anything answers; answer at once.
async fn ready() -> ActixResponse {
    ActixResponse::Ok().json(json!({"status": "ready"}))
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> ActixResponse {
    ActixResponse::build(status).json(json!({"error": {"code": code, "message": message.into()}}))
}

async fn read_body(
    req: &actix_web::HttpRequest,
    payload: web::Payload,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<web::Bytes, ActixResponse> {
    serve::body::read(req.headers(), payload, limit, timeout)
        .await
        .map_err(|e| match e {
            // actix closes the connection after this answer, since the body was not all read.
            BodyError::TimedOut => error(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the request body did not arrive within {} s",
                    timeout.as_secs_f64()
                ),
            ),
            BodyError::Unreadable(e) => {
                // Not actix's text, which carries debug output (`Some(Custom { kind: … })`).
                log::debug!("unreadable request body: {e}");
                error(
                    StatusCode::BAD_REQUEST,
                    "unreadable_body",
                    "the request body could not be read: the connection failed or it ended early",
                )
            }
            BodyError::TooLarge => error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the request body is larger than the limit of {limit} bytes"),
            ),
        })
}

/// The 415 for a body sent with a `Content-Encoding` other than `identity`: the runtime
/// decodes none (a compressed body could hold far more than any limit once decoded), so
/// it refuses one from the head, before reading it. The host itself never forwards the
/// header (azure-functions-host `Extensions/HttpRequestExtensions.cs`: content headers
/// are refused by `TryAddWithoutValidation`); a caller reaching the handler directly can.
fn encoded(req: &actix_web::HttpRequest) -> Option<ActixResponse> {
    let value = req
        .headers()
        .get(actix_web::http::header::CONTENT_ENCODING)?;
    let text = String::from_utf8_lossy(value.as_bytes());
    let identity = text
        .split(',')
        .map(str::trim)
        .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case("identity"));
    (!identity).then(|| {
        let shown: String = text.chars().take(64).collect();
        error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            format!("Content-Encoding \"{shown}\" is not accepted: send the body uncompressed"),
        )
    })
}

fn invocation_id(req: &actix_web::HttpRequest) -> String {
    req.headers()
        .get(INVOCATION_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// `POST /{FunctionName}`: the JSON invocation protocol.
async fn invoke(
    req: actix_web::HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> ActixResponse {
    let name = req.match_info().get("function").unwrap_or_default();
    let Some(function) = state.function(name).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "unknown_function",
            format!("no function named `{name}` is declared in this app"),
        );
    };
    if let Some(refused) = encoded(&req) {
        return refused;
    }
    let body = match read_body(&req, payload, state.body_limit, state.body_timeout).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let request = match InvocationRequest::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_invocation", e.message()),
    };
    // Read: a 10,000-row invocation is a megabyte the function does not need held while it
    // runs (held, glibc's allocator hands a heap that large back to the kernel and faults it
    // in again on the next invocation).
    drop(body);
    let id = invocation_id(&req);
    let invocation =
        Invocation::new(&function.name, &id, request).with_bindings(Arc::clone(&function.bindings));
    let logger = invocation.logger();
    let outcome = run(function.handler.as_ref(), invocation).await;
    let mut logs = logger.take_lines();
    match outcome {
        Ok(mut response) => {
            logs.append(&mut response.logs);
            response.logs = logs;
            ActixResponse::Ok().json(response)
        }
        Err(Failure::Error(e)) if e.is_transient() => {
            log::warn!(
                "[{} {id}] transient failure, the host will retry: {e}",
                function.name
            );
            // Non-2xx on purpose: the host discards outputs and retries a queue message.
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "transient_failure",
                e.to_string(),
            )
        }
        Err(Failure::Error(e)) => {
            // 2xx on purpose: retrying cannot help, so the invocation completes with its
            // failure logged and HTTP callers answered.
            let (status, code, message) = caller_error(&e);
            let level = if e.kind() == ErrorKind::BadInput {
                log::Level::Warn
            } else {
                log::Level::Error
            };
            log::log!(level, "[{} {id}] {e}", function.name);
            logs.push(format!("[{level}] {e}"));
            let mut response = InvocationResponse {
                logs,
                ..InvocationResponse::default()
            };
            let body = json!({"error": {"code": code, "message": message}});
            for output in &function.http_outputs {
                let mut http =
                    HttpResponse::new(status.as_u16()).header("Content-Type", "application/json");
                http.body = Some(body.to_string());
                if output == "$return" {
                    response.return_value = http.into();
                } else {
                    response.outputs.insert(output.clone(), http.into());
                }
            }
            ActixResponse::Ok().json(response)
        }
        Err(Failure::Panic(message)) => {
            log::error!("[{} {id}] the handler panicked: {message}", function.name);
            // Unknown state: let the host retry and, in the end, keep the message in poison.
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "handler_panicked",
                "the function panicked; see the handler's log",
            )
        }
    }
}

/// What an HTTP caller is told about a failed function: inputs are explained, internals are not.
fn caller_error(e: &InvocationError) -> (StatusCode, &'static str, String) {
    match e.kind() {
        ErrorKind::BadInput => (
            StatusCode::BAD_REQUEST,
            "bad_request",
            e.message().to_string(),
        ),
        ErrorKind::Transient => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the function could not complete; try again later".to_string(),
        ),
        ErrorKind::Permanent => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the function failed".to_string(),
        ),
    }
}

/// Anything else: a forwarded HTTP request when forwarding is on, otherwise 404.
async fn forward(
    req: actix_web::HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> ActixResponse {
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no function answers {} {}", req.method(), req.path()),
        )
    };
    let Some(prefix) = &state.forward_prefix else {
        return not_found();
    };
    let Some(rest) = req
        .path()
        .strip_prefix('/')
        .and_then(|p| strip_prefix_ci(p, prefix))
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
    else {
        return not_found();
    };
    let method = req.method().as_str();
    let mut method_mismatch = false;
    let mut chosen = None;
    for route in &state.forward_routes {
        if let Some(params) = route.template.matches(rest) {
            if route.trigger.accepts(method) {
                chosen = Some((route, params));
                break;
            }
            method_mismatch = true;
        }
    }
    let Some((route, params)) = chosen else {
        if method_mismatch {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} does not accept {method}", req.path()),
            );
        }
        return not_found();
    };
    // Refused from the head: nothing of such a body is read.
    if let Some(refused) = encoded(&req) {
        return refused;
    }
    let body = match read_body(&req, payload, route.body_limit, state.body_timeout).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let request = match forwarded_request(&req, params, &body) {
        Ok(request) => request,
        Err(message) => return error(StatusCode::BAD_REQUEST, "invalid_query", message),
    };
    let mut data = Map::new();
    let mut metadata = Map::new();
    for (k, v) in &request.params {
        metadata.insert(k.clone(), Value::String(v.clone()));
    }
    metadata.insert("Query".into(), json!(request.query));
    metadata.insert("Headers".into(), json!(request.headers));
    metadata.insert("sys".into(), sys(&route.function.name));
    let mut forwarded_bodies = std::collections::BTreeMap::new();
    forwarded_bodies.insert(route.trigger.name.clone(), body.to_vec());
    data.insert(route.trigger.name.clone(), json!(request));
    let id = invocation_id(&req);
    let invocation = Invocation::new(
        &route.function.name,
        &id,
        InvocationRequest {
            data,
            metadata,
            forwarded_bodies,
        },
    )
    .with_bindings(Arc::clone(&route.function.bindings));
    let name = &route.function.name;
    match run(route.function.handler.as_ref(), invocation).await {
        Ok(response) => match response.http_output(&route.output) {
            Some(Ok(http)) => to_actix(http),
            Some(Err(e)) => {
                log::error!("[{name} {id}] the function's http output is invalid: {e}");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the function failed",
                )
            }
            None => {
                log::error!(
                    "[{name} {id}] the function set no http output `{}`",
                    route.output
                );
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the function failed",
                )
            }
        },
        Err(Failure::Error(e)) => {
            log::warn!("[{name} {id}] {e}");
            let (status, code, message) = caller_error(&e);
            error(status, code, message)
        }
        Err(Failure::Panic(message)) => {
            log::error!("[{name} {id}] the handler panicked: {message}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the function failed",
            )
        }
    }
}

fn strip_prefix_ci<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let head = path.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &path[prefix.len()..])
}

/// The request the host would have put in `Data` for this HTTP call.
fn forwarded_request(
    req: &actix_web::HttpRequest,
    params: BTreeMap<String, String>,
    body: &[u8],
) -> Result<HttpRequest, String> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| format!("the query string could not be decoded ({e})"))?
        .into_inner();
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in pairs {
        // The host joins repeated keys with commas.
        query
            .entry(k)
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&v);
            })
            .or_insert(v);
    }
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in req.headers() {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_string())
            .or_default()
            .push(text);
    }
    let params = params
        .into_iter()
        .map(|(k, v)| (k, percent_decode(&v)))
        .collect();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    let body = if body.is_empty() {
        None
    } else if is_binary_content_type(content_type) {
        Some(STANDARD.encode(body))
    } else {
        Some(String::from_utf8_lossy(body).into_owned())
    };
    let info = req.connection_info();
    Ok(HttpRequest {
        url: format!("{}://{}{}", info.scheme(), info.host(), req.uri()),
        method: req.method().as_str().to_string(),
        query,
        headers,
        params,
        identities: Value::Null,
        body,
        // The invocation carries the exact bytes beside it (`forwarded_bodies`).
        raw_body: None,
    })
}

/// Decodes `%XX` escapes in a path segment; invalid escapes are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn sys(function: &str) -> Value {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({"MethodName": function, "UtcNow": now, "RandGuid": uuid::Uuid::new_v4().to_string()})
}

fn to_actix(http: HttpResponse) -> ActixResponse {
    let status = StatusCode::from_u16(http.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = ActixResponse::build(status);
    for (name, value) in &http.headers {
        match (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            (Ok(name), Ok(value)) => {
                builder.append_header((name, value));
            }
            _ => log::warn!(
                "dropping the response header `{name}`, which is not a valid HTTP header"
            ),
        }
    }
    match http.body {
        Some(body) => builder.body(body),
        None => builder.finish(),
    }
}

/// Why a handler produced no response.
enum Failure {
    Error(InvocationError),
    Panic(String),
}

/// Runs a handler, turning a panic anywhere in it into a [`Failure::Panic`] instead of a dropped
/// connection.
async fn run(handler: &dyn Handler, invocation: Invocation) -> Result<InvocationResponse, Failure> {
    let future = match std::panic::catch_unwind(AssertUnwindSafe(|| handler.call(invocation))) {
        Ok(future) => future,
        Err(panic) => return Err(Failure::Panic(panic_message(&*panic))),
    };
    match (CatchUnwind { future }).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(e)) => Err(Failure::Error(e)),
        Err(panic) => Err(Failure::Panic(panic_message(&*panic))),
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

struct CatchUnwind {
    future: HandlerFuture,
}

impl Future for CatchUnwind {
    type Output = Result<Result<InvocationResponse, InvocationError>, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.future.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decode_handles_escapes_and_leaves_bad_ones() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn strip_prefix_ci_ignores_case() {
        assert_eq!(strip_prefix_ci("API/jobs", "api"), Some("/jobs"));
        assert_eq!(strip_prefix_ci("ap", "api"), None);
    }
}
