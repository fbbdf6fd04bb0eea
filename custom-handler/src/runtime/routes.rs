//! The route table and request handlers: readiness, the JSON protocol, and forwarded HTTP.
//!
//! The rule that shapes this file: the host only uses Outputs and Logs when the handler answers
//! 2xx (`ProcessDefaultInvocationRequest` in azure-functions-host
//! `src/WebJobs.Script/Workers/Http/DefaultHttpWorkerService.cs`: `EnsureSuccessStatusCode`
//! before the body is read). Any other status fails the invocation: the host discards Outputs
//! and Logs, retries a queue message and answers an HTTP caller an empty 500
//! (`ExceptionMiddleware`). So:
//! - a failure that is the HTTP caller's (400) or worth their retry (503) answers the host 200,
//!   with that status inside the `http` output and the log lines in `Logs`;
//! - every other failure answers non-2xx, so nothing is completed as if it had succeeded, and
//!   the invocation's log lines go to stdout and stderr, which the host collects
//!   (`WorkerProcess.cs`), since `Logs` would be dropped (azure-functions-host #11086).

use super::HttpError;
use crate::function::{
    ErrorKind, Handler, HandlerFuture, Invocation, InvocationError, InvocationLogger,
};
use crate::outputs::Outputs;
use crate::protocol::{HttpRequest, HttpResponse, InvocationRequest, InvocationResponse};
use crate::route::RouteTemplate;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpResponse as ActixResponse, web};
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
    pub(crate) bindings: Arc<[crate::function_json::Binding]>,
    /// Whether an HTTP trigger starts it: its caller is then told about failures.
    pub(crate) http_triggered: bool,
}

/// A forwardable function's route.
pub(crate) struct ForwardRoute {
    pub(crate) function: Arc<Registered>,
    pub(crate) template: RouteTemplate,
    pub(crate) trigger: crate::function_json::HttpTrigger,
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
    /// The app's error body for everything the runtime answers itself.
    pub(crate) error_body: super::ErrorBody,
}

impl State {
    /// The app's body for `error`, with the error's status whatever the app set: a failed
    /// invocation must reach the host as non-2xx, or the host would complete it.
    pub(crate) fn render(&self, error: &HttpError) -> HttpResponse {
        let mut response = (self.error_body)(error);
        response.status = error.status;
        response
    }

    /// The app's answer for an error the runtime reports.
    fn error(
        &self,
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ActixResponse {
        let error = HttpError {
            status: status.as_u16(),
            code,
            message: message.into(),
        };
        to_actix(self.render(&error))
    }

    /// The app's error body as an `http` output value, with a plain one if the app's cannot
    /// travel as text.
    fn error_output(&self, error: &HttpError) -> Value {
        self.render(error)
            .to_output()
            .or_else(|_| super::plain_error_body(error).to_output())
            .unwrap_or(Value::Null)
    }

    /// The forwarded route of the function `name`, when forwarding is on and it has one.
    pub(crate) fn forward_route(&self, name: &str) -> Option<&ForwardRoute> {
        self.forward_prefix.as_ref()?;
        self.forward_routes.iter().find(|r| r.function.name == name)
    }

    pub(crate) fn function(&self, name: &str) -> Option<&Arc<Registered>> {
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

async fn read_body(
    state: &State,
    req: &actix_web::HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ActixResponse> {
    let timeout = state.body_timeout;
    serve::body::read(req.headers(), payload, limit, timeout)
        .await
        .map_err(|e| match e {
            // actix closes the connection after this answer, since the body was not all read.
            BodyError::TimedOut => state.error(
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
                state.error(
                    StatusCode::BAD_REQUEST,
                    "unreadable_body",
                    "the request body could not be read: the connection failed or it ended early",
                )
            }
            BodyError::TooLarge => state.error(
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
fn encoded(state: &State, req: &actix_web::HttpRequest) -> Option<ActixResponse> {
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
        state.error(
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
        return state.error(
            StatusCode::NOT_FOUND,
            "unknown_function",
            format!("no function named `{name}` is declared in this app"),
        );
    };
    if let Some(refused) = encoded(&state, &req) {
        return refused;
    }
    let body = match read_body(&state, &req, payload, state.body_limit).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let request = match InvocationRequest::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return state.error(StatusCode::BAD_REQUEST, "invalid_invocation", e.message());
        }
    };
    // Read: a 10,000-row invocation is a megabyte the function does not need held while it
    // runs (held, glibc's allocator hands a heap that large back to the kernel and faults it
    // in again on the next invocation).
    drop(body);
    let id = invocation_id(&req);
    let answer = dispatch(&state, &function, &id, request).await;
    match answer {
        Answer::Completed(response) => ActixResponse::Ok().json(response),
        Answer::Failed { code, reason } => {
            state.error(StatusCode::INTERNAL_SERVER_ERROR, code, reason)
        }
    }
}

/// What the runtime answers the host for one invocation.
pub(crate) enum Answer {
    /// 2xx with this body: the host applies the outputs and logs the lines.
    Completed(InvocationResponse),
    /// Non-2xx: the invocation fails. The log lines are already on stdout and stderr.
    Failed {
        /// A short code for the failure.
        code: &'static str,
        /// Why, in one sentence.
        reason: String,
    },
}

/// Runs one invocation of `function` and decides the answer to the host (see the module doc).
pub(crate) async fn dispatch(
    state: &State,
    function: &Registered,
    id: &str,
    request: InvocationRequest,
) -> Answer {
    let invocation = Invocation::new(&function.name, id, Arc::clone(&function.bindings), request);
    let logger = invocation.logger();
    let failure = match run(function.handler.as_ref(), invocation).await {
        Ok(outputs) => match outputs.into_wire(&function.bindings) {
            Ok(mut response) => {
                let mut logs = logger.take_lines();
                logs.append(&mut response.logs);
                response.logs = logs;
                return Answer::Completed(response);
            }
            Err(reason) => Failure::Error(InvocationError::permanent(reason)),
        },
        Err(failure) => failure,
    };
    // A caller is told only through an `http` output; without one, every failure fails.
    let caller = match &failure {
        Failure::Error(e) if function.http_triggered && !function.http_outputs.is_empty() => {
            caller_error(e)
        }
        _ => None,
    };
    if let (Some(error), Failure::Error(e)) = (caller, &failure) {
        logger.log(log::Level::Warn, e);
        let mut response = InvocationResponse {
            logs: logger.take_lines(),
            ..InvocationResponse::default()
        };
        let body = state.error_output(&error);
        for output in &function.http_outputs {
            if output == "$return" {
                let mut value = body.clone();
                // A response only with a body (`HttpBinding.CreateResult`).
                if let Value::Object(map) = &mut value {
                    map.entry("body")
                        .or_insert_with(|| Value::String(String::new()));
                }
                response.return_value = value;
            } else {
                response.outputs.insert(output.clone(), body.clone());
            }
        }
        return Answer::Completed(response);
    }
    let (code, reason) = match failure {
        Failure::Error(e) if e.is_transient() => ("transient_failure", e.to_string()),
        Failure::Error(e) => ("failed", e.to_string()),
        Failure::Panic(message) => (
            "handler_panicked",
            format!("the handler panicked: {message}"),
        ),
    };
    logger.log(log::Level::Error, &reason);
    logger.write_to_console();
    Answer::Failed { code, reason }
}

/// What an HTTP caller is told about a failure that is theirs to act on: their input (400)
/// or a retry later (503). Anything else is a fault, not the caller's.
fn caller_error(e: &InvocationError) -> Option<HttpError> {
    match e.kind() {
        ErrorKind::BadInput => Some(HttpError {
            status: 400,
            code: "bad_request",
            message: e.message().to_string(),
        }),
        ErrorKind::Transient => Some(HttpError {
            status: 503,
            code: "unavailable",
            message: "the function could not complete; try again later".to_string(),
        }),
        _ => None,
    }
}

/// Anything else: a forwarded HTTP request when forwarding is on, otherwise 404.
///
/// The host passes the answer to the caller as it is (`ProcessHttpInAndOutInvocationRequest`
/// in `DefaultHttpWorkerService.cs`), status and bytes, and has no `Logs` channel here, so the
/// invocation's lines always go to stdout and stderr.
async fn forward(
    req: actix_web::HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> ActixResponse {
    let not_found = || {
        state.error(
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
            return state.error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} does not accept {method}", req.path()),
            );
        }
        return not_found();
    };
    // Refused from the head: nothing of such a body is read.
    if let Some(refused) = encoded(&state, &req) {
        return refused;
    }
    let body = match read_body(&state, &req, payload, route.body_limit).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let request = match forwarded_request(&req, params) {
        Ok(request) => request,
        Err(message) => return state.error(StatusCode::BAD_REQUEST, "invalid_query", message),
    };
    let mut data = Map::new();
    let mut metadata = Map::new();
    // Route values as the host encodes binding data (serialised once more).
    for (k, v) in &request.params {
        metadata.insert(
            k.clone(),
            crate::protocol::host::host_encode(&Value::String(v.clone())),
        );
    }
    metadata.insert("Query".into(), json!(request.query));
    metadata.insert("Headers".into(), json!(request.headers));
    metadata.insert("sys".into(), sys(&route.function.name));
    let mut forwarded_bodies = BTreeMap::new();
    forwarded_bodies.insert(route.trigger.name.to_string(), body);
    data.insert(
        route.trigger.name.to_string(),
        serde_json::to_value(&request).unwrap_or_default(),
    );
    let id = invocation_id(&req);
    let request = InvocationRequest {
        data,
        metadata,
        forwarded_bodies,
    };
    to_actix(
        dispatch_forwarded(&state, route, &id, request)
            .await
            .response,
    )
}

/// What a forwarded function's caller gets, with the invocation's lines (already on the
/// console) and the reason it failed, if it did.
pub(crate) struct Forwarded {
    pub(crate) response: HttpResponse,
    pub(crate) lines: Vec<String>,
    pub(crate) failure: Option<String>,
}

/// Runs a forwarded function and decides what its caller gets.
pub(crate) async fn dispatch_forwarded(
    state: &State,
    route: &ForwardRoute,
    id: &str,
    request: InvocationRequest,
) -> Forwarded {
    let invocation = Invocation::new(
        &route.function.name,
        id,
        Arc::clone(&route.function.bindings),
        request,
    );
    let logger = invocation.logger();
    let outcome = match run(route.function.handler.as_ref(), invocation).await {
        Ok(mut outputs) => match outputs.take_http(&route.output) {
            Some(http) => Ok(http),
            None => Err(format!(
                "the function set no http output `{}`",
                route.output
            )),
        },
        Err(Failure::Error(e)) => match caller_error(&e) {
            Some(error) => {
                logger.log(log::Level::Warn, &e);
                Ok(state.render(&error))
            }
            None => Err(e.to_string()),
        },
        Err(Failure::Panic(message)) => Err(format!("the handler panicked: {message}")),
    };
    let (response, failure) = match outcome {
        Ok(response) => (response, None),
        Err(reason) => (fault(state, &logger, reason.clone()), Some(reason)),
    };
    let lines = logger.lines_so_far();
    logger.write_to_console();
    Forwarded {
        response,
        lines,
        failure,
    }
}

/// A forwarded function's fault: the reason in its log, an opaque 500 for the caller.
fn fault(state: &State, logger: &InvocationLogger, reason: String) -> HttpResponse {
    logger.log(log::Level::Error, reason);
    state.render(&HttpError {
        status: 500,
        code: "internal_error",
        message: "the function failed".to_string(),
    })
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
    let info = req.connection_info();
    let mut request = HttpRequest::new(
        req.method().as_str(),
        format!("{}://{}{}", info.scheme(), info.host(), req.uri()),
    );
    request.query = query;
    request.headers = headers;
    request.params = params;
    // The invocation carries the exact bytes beside it (`forwarded_bodies`).
    Ok(request)
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
async fn run(handler: &dyn Handler, invocation: Invocation) -> Result<Outputs, Failure> {
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
    type Output = Result<Result<Outputs, InvocationError>, Box<dyn Any + Send>>;

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
