//! Declaring functions in code: bindings, the handler, and what a handler receives and returns.

use crate::bindings::{Declaration, Input, Output, Trigger};
use crate::function_json::{Binding, DataType, Direction, FunctionJson};
use crate::outputs::Outputs;
use crate::protocol::{DecodeError, InvocationRequest, Sys};
use serde_json::{Map, Value};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

/// The future a [`Handler`] returns; see [`Handler`] for an example.
///
/// It need not be `Send`: the runtime awaits it on the worker thread that received the request.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Outputs, InvocationError>>>>;

/// Runs one function: an async function from an [`Invocation`] to its outputs. Usually made
/// with [`service_fn`]; implement it for a handler that carries state of its own.
///
/// ```
/// use functions_custom_handler::{Handler, HandlerFuture, Invocation, Outputs};
///
/// struct Nothing;
///
/// impl Handler for Nothing {
///     fn call(&self, _: Invocation) -> HandlerFuture {
///         Box::pin(async { Ok(Outputs::new()) })
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Handles one invocation.
    fn call(&self, invocation: Invocation) -> HandlerFuture;
}

/// A [`Handler`] made from an async function; see [`service_fn`] for an example.
#[derive(Clone)]
pub struct ServiceFn<F>(F);

/// Wraps `async fn(Invocation) -> Result<Outputs, InvocationError>` as a [`Handler`].
///
/// ```
/// use functions_custom_handler::{Invocation, InvocationError, Outputs, service_fn};
/// async fn nothing(_: Invocation) -> Result<Outputs, InvocationError> {
///     Ok(Outputs::new())
/// }
/// let handler = service_fn(nothing);
/// # let _ = handler;
/// ```
pub fn service_fn<F, Fut>(f: F) -> ServiceFn<F>
where
    F: Fn(Invocation) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Outputs, InvocationError>> + 'static,
{
    ServiceFn(f)
}

impl<F, Fut> Handler for ServiceFn<F>
where
    F: Fn(Invocation) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Outputs, InvocationError>> + 'static,
{
    fn call(&self, invocation: Invocation) -> HandlerFuture {
        Box::pin((self.0)(invocation))
    }
}

/// One function: its name (the folder holding its function.json), bindings and handler.
///
/// ```
/// use functions_custom_handler::bindings::{QueueOutput, QueueTrigger};
/// use functions_custom_handler::{Function, Invocation, InvocationError, Outputs, service_fn};
///
/// const IN: QueueTrigger = QueueTrigger::new("order", "orders");
/// const OUT: QueueOutput = QueueOutput::new("shipment", "shipments");
///
/// async fn ship(mut inv: Invocation) -> Result<Outputs, InvocationError> {
///     let order = inv.trigger(&IN)?;
///     Ok(Outputs::new().set(&OUT, order.body))
/// }
///
/// let function = Function::new("ship").trigger(IN).output(OUT).handler(service_fn(ship));
/// assert!(function.validate().is_ok());
/// assert_eq!(function.function_json().bindings.len(), 2);
/// ```
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

    /// Adds the trigger: what starts the function.
    pub fn trigger(self, trigger: impl Trigger) -> Self {
        self.binding(trigger.binding())
    }

    /// Adds an input binding.
    pub fn input(self, input: impl Input) -> Self {
        self.binding(input.binding())
    }

    /// Adds an output binding.
    pub fn output(self, output: impl Output) -> Self {
        self.binding(output.binding())
    }

    /// Adds any `function.json` entry, typed or not.
    pub fn binding(mut self, binding: impl Declaration) -> Self {
        self.bindings.push(binding.binding());
        self
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
            if let Binding::Extension(extension) = binding {
                extension
                    .check()
                    .map_err(|e| format!("the function `{name}`: {e}"))?;
            }
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
                // An extension's output takes strings unread under `binary`: its way to send
                // text the host would otherwise take for base64 (see `ExtensionOutput`).
                Some(DataType::Binary) if writes && !matches!(binding, Binding::Extension(_)) => {
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

/// One call of a function: what the host sent, the function's declaration, the invocation
/// id and its log.
///
/// ```
/// use functions_custom_handler::bindings::TimerTrigger;
/// use functions_custom_handler::{Invocation, InvocationError, Outputs};
///
/// const TICK: TimerTrigger = TimerTrigger::new("tick", "0 */5 * * * *");
///
/// async fn tick(mut inv: Invocation) -> Result<Outputs, InvocationError> {
///     let timer = inv.trigger(&TICK)?;
///     inv.log(log::Level::Info, format!("{} ran; past due: {}", inv.function_name(), timer.is_past_due));
///     Ok(Outputs::new())
/// }
/// ```
#[derive(Debug)]
pub struct Invocation {
    request: InvocationRequest,
    bindings: Arc<[Binding]>,
    logger: InvocationLogger,
}

impl Invocation {
    /// An invocation of `function_name` with id `invocation_id`, declared with `bindings`;
    /// the runtime and the test client make these (a test builds its invocations with
    /// [`crate::testing::Event`]).
    #[doc(hidden)]
    pub fn new(
        function_name: impl Into<String>,
        invocation_id: impl Into<String>,
        bindings: Arc<[Binding]>,
        request: InvocationRequest,
    ) -> Self {
        Self {
            request,
            bindings,
            logger: InvocationLogger {
                inner: Arc::new(LoggerInner {
                    function_name: function_name.into(),
                    invocation_id: invocation_id.into(),
                    lines: Mutex::new(Vec::new()),
                }),
            },
        }
    }

    fn declared(&self, binding: &Binding) -> Result<(), InvocationError> {
        let found = self
            .bindings
            .iter()
            .any(|b| b.name() == binding.name() && b.type_name() == binding.type_name());
        if found {
            Ok(())
        } else {
            Err(InvocationError::permanent(format!(
                "the function `{}` reads the {} binding `{}`, which its declaration lacks",
                self.function_name(),
                binding.type_name(),
                binding.name()
            )))
        }
    }

    /// The event that started this invocation, decoded as `trigger` declares.
    ///
    /// A trigger the function does not declare, or a value that does not decode, is a
    /// permanent failure: the invocation fails (a queue message is retried, then kept in the
    /// poison queue; an HTTP caller gets a 500) and the reason is logged. The event is moved
    /// out of the invocation (a large body is not copied), so a second call fails.
    pub fn trigger<T: Trigger>(&mut self, trigger: &T) -> Result<T::Event, InvocationError> {
        let binding = trigger.binding();
        self.declared(&binding)?;
        trigger.decode(&mut self.request).map_err(|e| {
            InvocationError::permanent(format!("the trigger `{}` is unusable: {e}", binding.name()))
        })
    }

    /// The value of the input binding `input`, decoded as it declares; failures as for
    /// [`Invocation::trigger`].
    pub fn input<I: Input>(&mut self, input: &I) -> Result<I::Value, InvocationError> {
        let binding = input.binding();
        self.declared(&binding)?;
        input.decode(&mut self.request).map_err(|e| {
            InvocationError::permanent(format!("the input `{}` is unusable: {e}", binding.name()))
        })
    }

    /// The trigger's metadata as the host sent it: the values binding expressions such as
    /// `{id}` read, with the host's encoding (see [`crate::protocol`]).
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.request.metadata
    }

    /// The `sys` metadata: the method name, the invocation time and a random GUID.
    pub fn sys(&self) -> Sys {
        self.request.sys()
    }

    /// The invocation id the host assigned (`X-Azure-Functions-InvocationId`).
    pub fn id(&self) -> &str {
        &self.logger.inner.invocation_id
    }

    /// The name of the function being invoked.
    pub fn function_name(&self) -> &str {
        &self.logger.inner.function_name
    }

    /// Records `message` for the host: in the answer's `Logs` when the invocation succeeds,
    /// on stdout (stderr for errors) when it fails or the host forwarded the request.
    pub fn log(&self, level: log::Level, message: impl fmt::Display) {
        self.logger.log(level, message);
    }

    /// A cloneable handle on this invocation's log, for spawned tasks.
    pub fn logger(&self) -> InvocationLogger {
        self.logger.clone()
    }
}

/// The log of one invocation, for tasks the handler spawns: lines go back to the host in
/// `Logs`, or to stdout and stderr when the invocation fails. Lines logged after the handler
/// has returned are not sent: await spawned work before returning.
///
/// ```
/// use functions_custom_handler::{Invocation, InvocationError, Outputs};
///
/// async fn fan_out(inv: Invocation) -> Result<Outputs, InvocationError> {
///     let log = inv.logger();
///     tokio::task::spawn_local(async move { log.log(log::Level::Info, "done in the background") });
///     Ok(Outputs::new())
/// }
/// ```
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
        // The host writes every Logs line at Information, so the level travels in the text.
        self.lines().push(format!("[{level}] {message}"));
    }

    /// Writes the lines recorded so far where the host collects a worker's output, one per
    /// line, each with the function name and invocation id: errors to stderr (the host logs
    /// them as errors), the rest to stdout (Information). `OnOutputDataReceived` and
    /// `ParseErrorMessageAndLog` in azure-functions-host
    /// `src/WebJobs.Script/Workers/ProcessManagement/WorkerProcess.cs`.
    pub(crate) fn write_to_console(&self) {
        use std::io::Write as _;
        let lines = self.take_lines();
        let inner = &self.inner;
        let mut out = std::io::stdout().lock();
        let mut err = std::io::stderr().lock();
        for line in lines {
            for part in line.lines() {
                let text = format!("{} {}: {part}\n", inner.function_name, inner.invocation_id);
                let _ = if line.starts_with("[ERROR]") {
                    err.write_all(text.as_bytes())
                } else {
                    out.write_all(text.as_bytes())
                };
            }
        }
        let _ = out.flush();
        let _ = err.flush();
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
///
/// ```
/// use functions_custom_handler::{ErrorKind, InvocationError};
/// assert_eq!(InvocationError::permanent("a bug").kind(), ErrorKind::Permanent);
/// ```
///
/// Any failure of a function that is not HTTP-triggered fails the invocation: the host
/// retries a queue message (up to `maxDequeueCount`) and then keeps it in the poison queue,
/// Event Grid retries and then dead-letters, Service Bus abandons the message. Nothing is
/// ever completed as if it had succeeded. For an HTTP-triggered function, the kind decides
/// what the caller is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Trying again may succeed (a dependency was down). HTTP callers get a 503 whose body
    /// the app chooses ([`crate::FunctionApp::error_body`]).
    Transient,
    /// A fault: a bug, a broken invariant, an input the host should never have sent. The
    /// invocation fails, so the host records it as failed; HTTP callers get a 500.
    Permanent,
    /// The caller's input is wrong. HTTP callers get a 400 with the message; for any other
    /// trigger it fails like the others, so the input is kept.
    BadInput,
}

/// A function's failure, and whether retrying it could help.
///
/// ```
/// use functions_custom_handler::{ErrorKind, InvocationError};
///
/// let down = InvocationError::transient("the rates service is down")
///     .with_source(std::io::Error::other("connection refused"));
/// assert!(down.is_transient());
/// assert_eq!(down.to_string(), "the rates service is down: connection refused");
/// assert_eq!(InvocationError::bad_input("no rows").kind(), ErrorKind::BadInput);
/// ```
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

/// What the host sent in a shape the declaration does not allow is a fault: the caller is
/// not to blame. Content that is not what its reader expects (a request body that is not
/// the JSON asked for, a message that is not text) is the sender's mistake: bad input.
impl From<DecodeError> for InvocationError {
    fn from(error: DecodeError) -> Self {
        if error.is_content() {
            Self::bad_input(error.message())
        } else {
            Self::permanent(error.message())
        }
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
    use crate::bindings::{HttpOutput, HttpTrigger, QueueOutput, QueueTrigger};

    async fn ok(_: Invocation) -> Result<Outputs, InvocationError> {
        Ok(Outputs::new())
    }

    #[test]
    fn builder_produces_the_documented_function_json() {
        let f = Function::new("submit-job")
            .trigger(HttpTrigger::post("req", "jobs"))
            .output(HttpOutput::new("res"))
            .output(QueueOutput::new("msg", "predict-jobs"))
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
                Function::new("a").output(HttpOutput::new("res")),
                "the function `a` has 0 triggers",
            ),
            (
                Function::new("a")
                    .trigger(QueueTrigger::new("x", "q"))
                    .output(QueueOutput::new("x", "q2")),
                "the function `a` declares the binding name `x` twice",
            ),
            (
                Function::new("a").trigger(QueueTrigger::new("x", "q")),
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
        let inv = Invocation::new(
            "f",
            "id-1",
            Arc::from(Vec::new()),
            InvocationRequest::default(),
        );
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
    fn a_value_that_does_not_decode_is_a_fault_and_bad_content_is_bad_input() {
        let err: InvocationError = DecodeError::new("bad envelope").into();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        let err: InvocationError = DecodeError::content("bad body").into();
        assert_eq!(err.kind(), ErrorKind::BadInput);
        let io = std::io::Error::other("disk");
        let err = InvocationError::transient("storage down").with_source(io);
        assert!(err.is_transient());
        assert_eq!(err.to_string(), "storage down: disk");
        assert!(std::error::Error::source(&err).is_some());
    }

    /// A binding name is written once; a handler reading a binding its function lacks (a
    /// declaration from another function) fails permanently, naming it.
    #[test]
    fn reading_an_undeclared_binding_is_a_permanent_failure_naming_it() {
        const JOB: QueueTrigger = QueueTrigger::new("job", "jobs");
        const OTHER: QueueTrigger = QueueTrigger::new("request", "jobs");
        let bindings: Arc<[Binding]> = Arc::from(vec![JOB.binding()]);
        let request: InvocationRequest =
            serde_json::from_value(serde_json::json!({"Data": {"job": "\"x\""}})).unwrap();
        let mut inv = Invocation::new("f", "id", bindings, request);
        let err = inv.trigger(&OTHER).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert_eq!(
            err.message(),
            "the function `f` reads the queueTrigger binding `request`, which its declaration lacks"
        );
        assert_eq!(inv.trigger(&JOB).unwrap().text().unwrap(), "x");
        // The event was moved out: a second read fails rather than decode a copy.
        let again = inv.trigger(&JOB).unwrap_err();
        assert!(
            again.message().contains("no queue message named `job`"),
            "{again}"
        );
    }
}
