//! Declaring functions in code: bindings, the handler, and what a handler receives and returns.

use crate::bindings::{
    Binding, Blob, DEFAULT_CONNECTION, DataType, Direction, EventGridTrigger, FunctionJson,
    HttpOutput, HttpTrigger, QueueOutput, QueueTrigger, TimerTrigger,
};
use crate::protocol::{DecodeError, InvocationRequest, InvocationResponse};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

/// The future a [`Handler`] returns.
///
/// It need not be `Send`: the runtime awaits it on the worker thread that received the request.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<InvocationResponse, InvocationError>>>>;

/// Runs one function: an async function from an [`Invocation`] to its outputs.
pub trait Handler: Send + Sync + 'static {
    /// Handles one invocation.
    fn call(&self, invocation: Invocation) -> HandlerFuture;
}

/// A [`Handler`] made from an async function; see [`service_fn`].
#[derive(Clone)]
pub struct ServiceFn<F>(F);

/// Wraps `async fn(Invocation) -> Result<InvocationResponse, InvocationError>` as a [`Handler`].
pub fn service_fn<F, Fut>(f: F) -> ServiceFn<F>
where
    F: Fn(Invocation) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<InvocationResponse, InvocationError>> + 'static,
{
    ServiceFn(f)
}

impl<F, Fut> Handler for ServiceFn<F>
where
    F: Fn(Invocation) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<InvocationResponse, InvocationError>> + 'static,
{
    fn call(&self, invocation: Invocation) -> HandlerFuture {
        Box::pin((self.0)(invocation))
    }
}

/// One function: its name (the folder holding its function.json), bindings and handler.
#[derive(Clone)]
pub struct Function {
    name: String,
    bindings: Vec<Binding>,
    handler: Option<Arc<dyn Handler>>,
    body_limit: Option<usize>,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .field("bindings", &self.bindings)
            .field("handler", &self.handler.is_some())
            .finish()
    }
}

impl Function {
    /// A function named `name` with no bindings yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            bindings: Vec::new(),
            handler: None,
            body_limit: None,
        }
    }

    /// The largest HTTP request body this function takes when the host forwards its requests
    /// (`enableForwardingHttpRequest`): a larger declared `Content-Length` is answered 413
    /// before any of the body is read, and a streamed body is cut off at the limit. Without
    /// it, the app's invocation limit applies.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    /// The limit set by [`Function::body_limit`].
    pub fn body_limit_bytes(&self) -> Option<usize> {
        self.body_limit
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds any binding.
    pub fn binding(mut self, binding: Binding) -> Self {
        self.bindings.push(binding);
        self
    }

    /// Adds an HTTP trigger named `name`.
    pub fn http_trigger(self, name: impl Into<String>, trigger: HttpTrigger) -> Self {
        self.binding(Binding::HttpTrigger(HttpTrigger {
            name: name.into(),
            ..trigger
        }))
    }

    /// Adds an `http` output named `name`.
    pub fn http_output(self, name: impl Into<String>) -> Self {
        self.binding(Binding::Http(HttpOutput { name: name.into() }))
    }

    /// Adds a trigger on the queue `queue_name`, through the default storage connection.
    pub fn queue_trigger(self, name: impl Into<String>, queue_name: impl Into<String>) -> Self {
        self.binding(Binding::QueueTrigger(QueueTrigger {
            name: name.into(),
            queue_name: queue_name.into(),
            connection: Some(DEFAULT_CONNECTION.to_string()),
            data_type: None,
        }))
    }

    /// Adds an output to the queue `queue_name`, through the default storage connection.
    pub fn queue_output(self, name: impl Into<String>, queue_name: impl Into<String>) -> Self {
        self.binding(Binding::Queue(QueueOutput {
            name: name.into(),
            queue_name: queue_name.into(),
            connection: Some(DEFAULT_CONNECTION.to_string()),
            data_type: None,
        }))
    }

    /// Adds a blob input read from `path` (binding expressions allowed), handed over as text.
    pub fn blob_input(self, name: impl Into<String>, path: impl Into<String>) -> Self {
        self.blob(name.into(), Direction::In, path.into(), DataType::String)
    }

    /// Adds a blob input handed over as bytes (`"dataType": "binary"`, base64 on the wire).
    pub fn blob_input_binary(self, name: impl Into<String>, path: impl Into<String>) -> Self {
        self.blob(name.into(), Direction::In, path.into(), DataType::Binary)
    }

    /// Adds a blob output written to `path` (binding expressions allowed).
    pub fn blob_output(self, name: impl Into<String>, path: impl Into<String>) -> Self {
        self.blob(name.into(), Direction::Out, path.into(), DataType::String)
    }

    fn blob(self, name: String, direction: Direction, path: String, data_type: DataType) -> Self {
        self.binding(Binding::Blob(Blob {
            name,
            direction,
            path,
            connection: Some(DEFAULT_CONNECTION.to_string()),
            data_type: Some(data_type),
        }))
    }

    /// Adds a timer trigger on a six-field NCRONTAB `schedule`.
    pub fn timer_trigger(self, name: impl Into<String>, schedule: impl Into<String>) -> Self {
        self.binding(Binding::TimerTrigger(TimerTrigger {
            name: name.into(),
            schedule: schedule.into(),
            run_on_startup: None,
        }))
    }

    /// Adds an Event Grid trigger: the host calls the function once per event delivered to
    /// `/runtime/webhooks/eventgrid?functionName=<name>`.
    pub fn event_grid_trigger(self, name: impl Into<String>) -> Self {
        self.binding(Binding::EventGridTrigger(EventGridTrigger {
            name: name.into(),
        }))
    }

    /// Sets the code that runs for each invocation.
    pub fn handler(mut self, handler: impl Handler) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// The function.json this declaration stands for.
    pub fn function_json(&self) -> FunctionJson {
        FunctionJson {
            bindings: self.bindings.clone(),
        }
    }

    pub(crate) fn handler_ref(&self) -> Option<&Arc<dyn Handler>> {
        self.handler.as_ref()
    }

    /// Checks what the host would reject or what could not run: the name, exactly one trigger,
    /// unique binding names, and a handler.
    pub fn validate(&self) -> Result<(), String> {
        let name = &self.name;
        let valid_name = name.len() <= 128
            && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err(format!(
                "the function name `{name}` is not valid: use a letter, then letters, digits, `-` or `_`"
            ));
        }
        let triggers = self.bindings.iter().filter(|b| b.is_trigger()).count();
        if triggers != 1 {
            return Err(format!(
                "the function `{name}` has {triggers} triggers; declare exactly one"
            ));
        }
        for (i, binding) in self.bindings.iter().enumerate() {
            if binding.name().is_empty() {
                return Err(format!(
                    "the function `{name}` has a {} binding with no name",
                    binding.type_name()
                ));
            }
            if self.bindings[..i]
                .iter()
                .any(|b| b.name() == binding.name())
            {
                return Err(format!(
                    "the function `{name}` declares the binding name `{}` twice",
                    binding.name()
                ));
            }
        }
        for binding in &self.bindings {
            // Outputs reach their destination exactly only as base64 the host decodes, which
            // it skips for `binary` (`GetBindingValue` in HttpScriptInvocationResultExtensions.cs);
            // `stream` hands a custom handler nothing it can read.
            let writes =
                binding.direction() != Direction::In && !matches!(binding, Binding::Http(_));
            match binding.data_type() {
                Some(DataType::Stream) => {
                    return Err(format!(
                        "the binding `{}` of `{name}` has dataType `stream`, which a custom handler cannot use; use `string` or `binary`",
                        binding.name()
                    ));
                }
                Some(DataType::Binary) if writes => {
                    return Err(format!(
                        "the output `{}` of `{name}` has dataType `binary`, with which the host writes strings unchanged and bytes cannot be sent; leave dataType unset",
                        binding.name()
                    ));
                }
                _ => {}
            }
        }
        if self.handler.is_none() {
            return Err(format!(
                "the function `{name}` has no handler; call .handler(service_fn(...))"
            ));
        }
        Ok(())
    }
}

/// One call of a function: the decoded request, the function's bindings, the invocation id
/// and a logger.
#[derive(Debug)]
pub struct Invocation {
    request: InvocationRequest,
    bindings: Arc<[Binding]>,
    logger: InvocationLogger,
}

impl Invocation {
    /// An invocation of `function_name` with id `invocation_id`; the runtime makes these, and
    /// tests can too, to call a handler directly.
    pub fn new(
        function_name: impl Into<String>,
        invocation_id: impl Into<String>,
        request: InvocationRequest,
    ) -> Self {
        Self {
            request,
            bindings: Arc::from(Vec::new()),
            logger: InvocationLogger {
                inner: Arc::new(LoggerInner {
                    function_name: function_name.into(),
                    invocation_id: invocation_id.into(),
                    lines: Mutex::new(Vec::new()),
                }),
            },
        }
    }

    /// The same invocation for a function declared with `bindings`, which say how each input
    /// is decoded (the runtime calls this with the function's own declaration).
    pub fn with_bindings(mut self, bindings: Arc<[Binding]>) -> Self {
        self.bindings = bindings;
        self
    }

    /// The trigger and input values and metadata, undecoded.
    pub fn request(&self) -> &InvocationRequest {
        &self.request
    }

    /// The same, to take values out of (see [`InvocationRequest::take_http_trigger`]).
    pub fn request_mut(&mut self) -> &mut InvocationRequest {
        &mut self.request
    }

    /// The declared `dataType` of the trigger or input binding `name`.
    fn input_data_type(&self, name: &str) -> Result<Option<DataType>, DecodeError> {
        let binding = self
            .bindings
            .iter()
            .find(|b| b.name() == name && b.direction() != Direction::Out)
            .ok_or_else(|| {
                DecodeError::new(format!(
                    "the function `{}` declares no trigger or input binding named `{name}`",
                    self.function_name()
                ))
            })?;
        Ok(binding.data_type())
    }

    /// The bytes of the blob input `name`, decoded as its declaration says; `None` when the
    /// blob does not exist (the host sends the string `null`).
    pub fn blob_input(&self, name: &str) -> Result<Option<Vec<u8>>, DecodeError> {
        self.request.input_bytes(name, self.input_data_type(name)?)
    }

    /// The text of the queue message that triggered this invocation, decoded as `name`'s
    /// declaration says.
    pub fn queue_message(&self, name: &str) -> Result<String, DecodeError> {
        self.request
            .queue_message(name, self.input_data_type(name)?)
    }

    /// The queue message `name`, parsed as JSON into `T`.
    pub fn queue_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, DecodeError> {
        self.request.queue_json(name, self.input_data_type(name)?)
    }

    /// The invocation id the host assigned (`X-Azure-Functions-InvocationId`).
    pub fn id(&self) -> &str {
        &self.logger.inner.invocation_id
    }

    /// The name of the function being invoked.
    pub fn function_name(&self) -> &str {
        &self.logger.inner.function_name
    }

    /// Records `message` for the host's invocation log and writes it to stdout with the id.
    pub fn log(&self, level: log::Level, message: impl fmt::Display) {
        self.logger.log(level, message);
    }

    /// A cloneable handle on this invocation's log, for spawned tasks.
    pub fn logger(&self) -> InvocationLogger {
        self.logger.clone()
    }
}

/// The log of one invocation: lines go back to the host in `Logs` and to stdout via `log`.
#[derive(Debug, Clone)]
pub struct InvocationLogger {
    inner: Arc<LoggerInner>,
}

#[derive(Debug)]
struct LoggerInner {
    function_name: String,
    invocation_id: String,
    lines: Mutex<Vec<String>>,
}

impl InvocationLogger {
    /// Records `message` at `level`.
    pub fn log(&self, level: log::Level, message: impl fmt::Display) {
        let inner = &self.inner;
        log::log!(
            target: "custom_handler::invocation",
            level,
            "[{} {}] {message}",
            inner.function_name,
            inner.invocation_id
        );
        // The host writes every Logs line at Information, so the level travels in the text.
        self.lines().push(format!("[{level}] {message}"));
    }

    /// The lines recorded so far.
    pub fn lines_so_far(&self) -> Vec<String> {
        self.lines().clone()
    }

    pub(crate) fn take_lines(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines())
    }

    fn lines(&self) -> MutexGuard<'_, Vec<String>> {
        // A panic while holding the lock leaves a Vec that is still valid; keep using it.
        self.inner
            .lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How a failed invocation should be treated; it decides what the host does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Trying again may succeed (a dependency was down). The runtime answers the host 500, so
    /// the host discards outputs and retries a queue message (up to `maxDequeueCount`).
    Transient,
    /// Trying again cannot help (a bug, a broken invariant). The runtime completes the
    /// invocation (2xx) so the message is not retried; HTTP callers get an opaque 500.
    Permanent,
    /// The input is wrong. Like `Permanent`, but HTTP callers get a 400 with the message.
    BadInput,
}

/// A function's failure, and whether retrying it could help.
#[derive(Debug)]
pub struct InvocationError {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl InvocationError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A failure worth retrying.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transient, message)
    }

    /// A failure retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Permanent, message)
    }

    /// Input the function cannot accept; `message` is shown to HTTP callers.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadInput, message)
    }

    /// Attaches the underlying error, which goes to the log but never to callers.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// How the failure is treated.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether retrying may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }

    /// The message, without the source.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for InvocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvocationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Input that does not decode is the caller's (or producer's) mistake.
impl From<DecodeError> for InvocationError {
    fn from(error: DecodeError) -> Self {
        Self::bad_input(error.message())
    }
}

/// Failing to serialize an output is a bug in the function, not something a retry fixes.
impl From<serde_json::Error> for InvocationError {
    fn from(error: serde_json::Error) -> Self {
        Self::permanent("an output could not be serialized").with_source(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ok(_: Invocation) -> Result<InvocationResponse, InvocationError> {
        Ok(InvocationResponse::new())
    }

    #[test]
    fn builder_produces_the_documented_function_json() {
        let f = Function::new("submit-job")
            .http_trigger("req", HttpTrigger::post("jobs"))
            .http_output("res")
            .queue_output("msg", "predict-jobs")
            .handler(service_fn(ok));
        assert!(f.validate().is_ok());
        let json = serde_json::to_value(f.function_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"bindings": [
                {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "function", "methods": ["post"], "route": "jobs"},
                {"type": "http", "direction": "out", "name": "res"},
                {"type": "queue", "direction": "out", "name": "msg", "queueName": "predict-jobs", "connection": "AzureWebJobsStorage"}
            ]})
        );
    }

    #[test]
    fn validate_names_each_problem() {
        let cases = [
            (
                Function::new("1bad"),
                "the function name `1bad` is not valid",
            ),
            (
                Function::new("a").http_output("res"),
                "the function `a` has 0 triggers",
            ),
            (
                Function::new("a")
                    .queue_trigger("x", "q")
                    .queue_output("x", "q2"),
                "the function `a` declares the binding name `x` twice",
            ),
            (
                Function::new("a").queue_trigger("x", "q"),
                "the function `a` has no handler",
            ),
        ];
        for (f, expected) in cases {
            let err = f.validate().unwrap_err();
            assert!(err.starts_with(expected), "{err}");
        }
    }

    #[test]
    fn logs_are_collected_with_their_level() {
        let inv = Invocation::new("f", "id-1", InvocationRequest::default());
        inv.log(log::Level::Warn, "careful");
        let logger = inv.logger();
        logger.log(log::Level::Info, 42);
        assert_eq!(inv.id(), "id-1");
        assert_eq!(inv.function_name(), "f");
        assert_eq!(logger.lines_so_far(), vec!["[WARN] careful", "[INFO] 42"]);
        assert_eq!(logger.take_lines().len(), 2);
        assert!(logger.lines_so_far().is_empty());
    }

    #[test]
    fn errors_keep_their_kind_and_source() {
        let err: InvocationError = DecodeError::new("bad body").into();
        assert_eq!(err.kind(), ErrorKind::BadInput);
        let io = std::io::Error::other("disk");
        let err = InvocationError::transient("storage down").with_source(io);
        assert!(err.is_transient());
        assert_eq!(err.to_string(), "storage down: disk");
        assert!(std::error::Error::source(&err).is_some());
    }
}
