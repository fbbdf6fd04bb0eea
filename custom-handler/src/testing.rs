//! An in-process test client: build an invocation from an example event file or a typed
//! value, run a function through the same code the server runs, and read its outputs typed,
//! as the host would apply them. `chalice.test.Client` and `lambda_http`'s request helpers are
//! the models.
//!
//! ```
//! use functions_custom_handler::bindings::{BlobOutput, QueueTrigger};
//! use functions_custom_handler::testing::{Event, TestClient};
//! use functions_custom_handler::{Function, FunctionApp, Invocation, InvocationError, Outputs, service_fn};
//!
//! const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
//! const RECEIPT: BlobOutput = BlobOutput::new("receipt", "receipts/{id}.txt");
//!
//! async fn receipt(mut inv: Invocation) -> Result<Outputs, InvocationError> {
//!     let order = inv.trigger(&ORDER)?;
//!     Ok(Outputs::new().set(&RECEIPT, format!("received {}", order.text()?)))
//! }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let app = FunctionApp::new().function(
//!     Function::new("receipt").trigger(ORDER).output(RECEIPT).handler(service_fn(receipt)),
//! );
//! let client = TestClient::new(app).unwrap();
//! let invoked = client.invoke("receipt", Event::queue(&ORDER, "order 7")).await;
//! assert_eq!(invoked.failure(), None);
//! assert_eq!(invoked.blob(&RECEIPT).unwrap(), "received order 7");
//!
//! // A failed invocation: the host would retry the message, then keep it in poison.
//! let failed = client.invoke("receipt", Event::default()).await;
//! assert!(failed.failure().unwrap().contains("no queue message named `order`"));
//! # });
//! ```

use crate::bindings::{
    BlobInput, Declaration, EventGridTrigger, ExtensionInput, ExtensionOutput, ExtensionTrigger,
    HttpOutput, HttpTrigger, QueueOutput, QueueTrigger, TimerTrigger,
};
use crate::events::{EventGridEvent, TimerInfo};
use crate::function_json::Binding;
use crate::protocol::host::{self, Bound};
use crate::protocol::{HttpRequest, HttpResponse, InvocationRequest, InvocationResponse};
use crate::runtime::routes::{Answer, State, dispatch, dispatch_forwarded};
use crate::{FunctionApp, StartError};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::path::Path;

/// Runs an app's functions in process: no server, no port, the runtime's own dispatch.
///
/// ```
/// # use functions_custom_handler::bindings::{BlobOutput, QueueTrigger};
/// # use functions_custom_handler::testing::{Event, TestClient};
/// # use functions_custom_handler::{Function, FunctionApp, Outputs, service_fn};
/// # const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
/// # const COPY: BlobOutput = BlobOutput::new("copy", "copies/{rand-guid}");
/// # let app = FunctionApp::new().function(Function::new("copy").trigger(ORDER).output(COPY)
/// #     .handler(service_fn(|mut inv| async move { Ok(Outputs::new().set(&COPY, inv.trigger(&ORDER)?.body)) })));
/// # actix_web::rt::System::new().block_on(async {
/// let client = TestClient::new(app).unwrap();
/// let invoked = client.invoke("copy", Event::queue(&ORDER, "a")).await;
/// assert_eq!(invoked.blob(&COPY).unwrap(), "a");
/// # });
/// ```
pub struct TestClient {
    state: State,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient").finish_non_exhaustive()
    }
}

impl TestClient {
    /// A client for `app`; the app is validated as [`FunctionApp::bind`] validates it.
    ///
    /// Functions are forwarded as the app is configured: an app whose host.json turns
    /// `enableForwardingHttpRequest` on should be built the same way here
    /// (`.forward_http_requests(true)` or `.with_host_json(..)`), as `main` reads host.json
    /// only when it serves.
    ///
    /// ```
    /// # use functions_custom_handler::bindings::{BlobOutput, QueueTrigger};
    /// # use functions_custom_handler::testing::{Event, TestClient};
    /// # use functions_custom_handler::{Function, FunctionApp, Outputs, service_fn};
    /// # const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
    /// # const COPY: BlobOutput = BlobOutput::new("copy", "copies/{rand-guid}");
    /// # let app = FunctionApp::new().function(Function::new("copy").trigger(ORDER).output(COPY)
    /// #     .handler(service_fn(|mut inv| async move { Ok(Outputs::new().set(&COPY, inv.trigger(&ORDER)?.body)) })));
    /// # actix_web::rt::System::new().block_on(async {
    /// assert!(TestClient::new(FunctionApp::new().function(Function::new("no-trigger"))).is_err());
    /// let client = TestClient::new(app).unwrap();
    /// # });
    /// ```
    pub fn new(app: FunctionApp) -> Result<Self, StartError> {
        app.validate()?;
        Ok(Self { state: app.state() })
    }

    /// Invokes `function` with `event`, as the host posts an invocation to `/{function}`.
    ///
    /// An unknown function is a failed invocation naming it.
    ///
    /// ```
    /// # use functions_custom_handler::bindings::{BlobOutput, QueueTrigger};
    /// # use functions_custom_handler::testing::{Event, TestClient};
    /// # use functions_custom_handler::{Function, FunctionApp, Outputs, service_fn};
    /// # const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
    /// # const COPY: BlobOutput = BlobOutput::new("copy", "copies/{rand-guid}");
    /// # let app = FunctionApp::new().function(Function::new("copy").trigger(ORDER).output(COPY)
    /// #     .handler(service_fn(|mut inv| async move { Ok(Outputs::new().set(&COPY, inv.trigger(&ORDER)?.body)) })));
    /// # actix_web::rt::System::new().block_on(async {
    /// let client = TestClient::new(app).unwrap();
    /// let invoked = client.invoke("nope", Event::queue(&ORDER, "a")).await;
    /// assert_eq!(invoked.failure(), Some("no function named `nope` is declared in this app"));
    /// # });
    /// ```
    pub async fn invoke(&self, function: &str, event: Event) -> Invoked {
        let Some(registered) = self.state.function(function).cloned() else {
            return Invoked::failed(format!(
                "no function named `{function}` is declared in this app"
            ));
        };
        let id = uuid::Uuid::new_v4().to_string();
        // A function the host forwards gets its request as it came, and answers bytes.
        if let Some(route) = self.state.forward_route(&registered.name) {
            let request = InvocationRequest {
                data: event.data,
                metadata: event.metadata,
                forwarded_bodies: event.bodies,
            };
            let forwarded = dispatch_forwarded(&self.state, route, &id, request).await;
            let response = forwarded.response;
            return Invoked {
                response: InvocationResponse {
                    logs: forwarded.lines,
                    ..InvocationResponse::default()
                },
                failure: forwarded.failure,
                declared: registered.bindings.to_vec(),
                forwarded: Some(response),
                answer: Value::Null,
            };
        }
        let request = InvocationRequest {
            data: event.data,
            metadata: event.metadata,
            forwarded_bodies: Default::default(),
        };
        match dispatch(&self.state, &registered, &id, request).await {
            Answer::Completed(response) => Invoked {
                answer: serde_json::to_value(&response).unwrap_or_default(),
                response,
                failure: None,
                declared: registered.bindings.to_vec(),
                forwarded: None,
            },
            Answer::Failed { code, reason } => {
                let error = crate::HttpError {
                    status: 500,
                    code,
                    message: reason.clone(),
                };
                let rendered = self.state.render(&error);
                let body = rendered.body.unwrap_or_default();
                Invoked {
                    answer: serde_json::from_slice(&body)
                        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into())),
                    ..Invoked::failed(reason)
                }
            }
        }
    }
}

/// An invocation to send: `Data` and `Metadata` as the host builds them.
///
/// ```
/// use functions_custom_handler::bindings::{BlobInput, QueueTrigger};
/// use functions_custom_handler::testing::Event;
///
/// const JOB: QueueTrigger = QueueTrigger::new("job", "jobs");
/// const PREVIOUS: BlobInput = BlobInput::new("previous", "results/{jobId}.json");
/// let event = Event::queue(&JOB, r#"{"jobId": "j-1"}"#).with_blob(&PREVIOUS, None::<&[u8]>);
/// # let _ = event;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    data: Map<String, Value>,
    metadata: Map<String, Value>,
    /// Exact HTTP bodies by trigger name, for a function the host forwards.
    bodies: std::collections::BTreeMap<String, Bytes>,
}

impl Event {
    /// An invocation body read from a file: `{"Data": {...}, "Metadata": {...}}`, as the host
    /// posts it (keys starting with `_`, such as a fixture's notes, are ignored).
    ///
    /// ```
    /// use functions_custom_handler::testing::Event;
    /// let path = std::env::temp_dir().join("order-event.json");
    /// std::fs::write(&path, r#"{"Data": {"order": "\"a\""}, "Metadata": {}}"#).unwrap();
    /// assert!(Event::from_file(&path).is_ok());
    /// assert!(Event::from_file("/no/such/file.json").is_err());
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, String> {
        let path = path.as_ref();
        let text =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// An invocation body as the host posts it (`{"Data": {...}, "Metadata": {...}}`).
    ///
    /// ```
    /// use functions_custom_handler::testing::Event;
    /// assert!(Event::from_slice(br#"{"Data": {}, "Metadata": {}}"#).is_ok());
    /// assert!(Event::from_slice(b"[]").is_err());
    /// ```
    pub fn from_slice(body: &[u8]) -> Result<Self, String> {
        let request = InvocationRequest::from_slice(body).map_err(|e| e.to_string())?;
        Ok(Self {
            data: request.data,
            metadata: request.metadata,
            bodies: Default::default(),
        })
    }

    /// An HTTP request on `trigger`, with route values in `request.params`.
    ///
    /// ```
    /// use functions_custom_handler::bindings::HttpTrigger;
    /// use functions_custom_handler::testing::Event;
    /// use functions_custom_handler::HttpRequest;
    /// const REQ: HttpTrigger = HttpTrigger::post("req", "orders");
    /// let event = Event::http(&REQ, HttpRequest::new("POST", "http://localhost/api/orders").with_body("{}"));
    /// # let _ = event;
    /// ```
    pub fn http(trigger: &HttpTrigger, request: HttpRequest) -> Self {
        let mut event = Self::default();
        for (key, value) in &request.params {
            event
                .metadata
                .insert(key.clone(), host::host_encode(&json!(value)));
        }
        let value = serde_json::to_value(&request).unwrap_or_default();
        event.data.insert(trigger.name.to_string(), value);
        event.bodies.insert(trigger.name.to_string(), request.body);
        event
    }

    /// A queue message on `trigger`, delivered for the first time; a JSON message's top-level
    /// properties become metadata (`{jobId}` in a path), as on the host.
    ///
    /// ```
    /// # use functions_custom_handler::bindings::{BlobOutput, QueueTrigger};
    /// # use functions_custom_handler::testing::{Event, TestClient};
    /// # use functions_custom_handler::{Function, FunctionApp, Outputs, service_fn};
    /// # const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
    /// # const COPY: BlobOutput = BlobOutput::new("copy", "copies/{rand-guid}");
    /// # let app = FunctionApp::new().function(Function::new("copy").trigger(ORDER).output(COPY)
    /// #     .handler(service_fn(|mut inv| async move { Ok(Outputs::new().set(&COPY, inv.trigger(&ORDER)?.body)) })));
    /// # actix_web::rt::System::new().block_on(async {
    /// let client = TestClient::new(app).unwrap();
    /// assert!(client.invoke("copy", Event::queue(&ORDER, r#"{"jobId": "j-1"}"#)).await.succeeded());
    /// # });
    /// ```
    pub fn queue(trigger: &QueueTrigger, message: impl Into<Bytes>) -> Self {
        let message = message.into();
        let mut event = Self::default();
        event.data.insert(
            trigger.name.to_string(),
            host::input_value(Some(&message), trigger.data_type),
        );
        for (key, value) in host::json_properties(&String::from_utf8_lossy(&message)) {
            event.metadata.insert(key, host::host_encode(&value));
        }
        event.metadata.insert("DequeueCount".into(), json!("1"));
        event.metadata.insert(
            "Id".into(),
            host::host_encode(&json!(uuid::Uuid::new_v4().to_string())),
        );
        event
    }

    /// A timer tick on `trigger`.
    ///
    /// ```
    /// use functions_custom_handler::bindings::TimerTrigger;
    /// use functions_custom_handler::events::TimerInfo;
    /// use functions_custom_handler::testing::Event;
    /// const TICK: TimerTrigger = TimerTrigger::new("tick", "0 * * * * *");
    /// let event = Event::timer(&TICK, TimerInfo { is_past_due: true, ..TimerInfo::default() });
    /// # let _ = event;
    /// ```
    pub fn timer(trigger: &TimerTrigger, info: TimerInfo) -> Self {
        let mut event = Self::default();
        event.data.insert(
            trigger.name.to_string(),
            serde_json::to_value(info).unwrap_or_default(),
        );
        event
    }

    /// An Event Grid event on `trigger`, as an object with its `data` in metadata.
    ///
    /// ```
    /// use functions_custom_handler::bindings::EventGridTrigger;
    /// use functions_custom_handler::testing::Event;
    /// const EVENT: EventGridTrigger = EventGridTrigger::new("event");
    /// let created = serde_json::from_value(serde_json::json!({"id": "1", "subject": "s",
    ///     "eventType": "Microsoft.Storage.BlobCreated", "eventTime": "t", "data": {"url": "u"}})).unwrap();
    /// let event = Event::event_grid(&EVENT, created);
    /// # let _ = event;
    /// ```
    pub fn event_grid(trigger: &EventGridTrigger, event: EventGridEvent) -> Self {
        let value = serde_json::to_value(event).unwrap_or_default();
        let mut built = Self::default();
        built.metadata.insert("data".into(), value["data"].clone());
        built.data.insert(trigger.name.to_string(), value);
        built
    }

    /// A value on an extension's `trigger`, sent as the host sends what an extension binds
    /// as text (see [`ExtensionTrigger`]): a JSON value as its JSON text, text as it is, each
    /// then encoded by [`host::host_encode`].
    ///
    /// ```
    /// use functions_custom_handler::bindings::ExtensionTrigger;
    /// use functions_custom_handler::testing::Event;
    /// const CHANGES: ExtensionTrigger = ExtensionTrigger::new("cosmosDBTrigger", "documents");
    /// let event = Event::extension(&CHANGES, serde_json::json!([{"id": "1"}]));
    /// # let _ = event;
    /// ```
    pub fn extension(trigger: &ExtensionTrigger, value: impl Into<Value>) -> Self {
        let mut event = Self::default();
        event
            .data
            .insert(trigger.0.name.to_string(), as_bound_text(value.into()));
        event
    }

    /// The same invocation with the extension input `input` holding `value`, sent as for
    /// [`Event::extension`].
    ///
    /// ```
    /// use functions_custom_handler::bindings::{ExtensionInput, QueueTrigger};
    /// use functions_custom_handler::testing::Event;
    /// const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
    /// const CUSTOMER: ExtensionInput = ExtensionInput::new("cosmosDB", "customer");
    /// let event = Event::queue(&ORDER, "7")
    ///     .with_extension_input(&CUSTOMER, serde_json::json!({"id": "c-1"}));
    /// # let _ = event;
    /// ```
    pub fn with_extension_input(mut self, input: &ExtensionInput, value: impl Into<Value>) -> Self {
        self.data
            .insert(input.0.name.to_string(), as_bound_text(value.into()));
        self
    }

    /// The same invocation with the blob input `input` holding `content`, or missing.
    ///
    /// ```
    /// use functions_custom_handler::bindings::{BlobInput, QueueTrigger};
    /// use functions_custom_handler::testing::Event;
    /// const JOB: QueueTrigger = QueueTrigger::new("job", "jobs");
    /// const ROWS: BlobInput = BlobInput::new("rows", "inputs/{jobId}.csv");
    /// let event = Event::queue(&JOB, r#"{"jobId": "j-1"}"#).with_blob(&ROWS, Some("a,b\n1,2\n"));
    /// # let _ = event;
    /// ```
    pub fn with_blob(mut self, input: &BlobInput, content: Option<impl AsRef<[u8]>>) -> Self {
        let Binding::Blob(blob) = input.binding() else {
            return self;
        };
        let content = content.as_ref().map(AsRef::as_ref);
        self.data.insert(
            blob.name.to_string(),
            host::input_value(content, blob.data_type),
        );
        self
    }

    /// The same invocation with the metadata `key` set to `value`, encoded as the host does.
    ///
    /// ```
    /// use functions_custom_handler::bindings::QueueTrigger;
    /// use functions_custom_handler::testing::Event;
    /// const JOB: QueueTrigger = QueueTrigger::new("job", "jobs");
    /// let event = Event::queue(&JOB, "plain text").with_metadata("jobId", "j-1");
    /// # let _ = event;
    /// ```
    pub fn with_metadata(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metadata
            .insert(key.to_owned(), host::host_encode(&value.into()));
        self
    }
}

/// What an invocation did, read as the host applies it.
///
/// ```
/// # use functions_custom_handler::bindings::{BlobOutput, QueueTrigger};
/// # use functions_custom_handler::testing::{Event, TestClient};
/// # use functions_custom_handler::{Function, FunctionApp, Outputs, service_fn};
/// # const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
/// # const COPY: BlobOutput = BlobOutput::new("copy", "copies/{rand-guid}");
/// # let app = FunctionApp::new().function(Function::new("copy").trigger(ORDER).output(COPY)
/// #     .handler(service_fn(|mut inv| async move { Ok(Outputs::new().set(&COPY, inv.trigger(&ORDER)?.body)) })));
/// # actix_web::rt::System::new().block_on(async {
/// let invoked = TestClient::new(app).unwrap().invoke("copy", Event::queue(&ORDER, "a")).await;
/// assert!(invoked.succeeded() && invoked.logs().is_empty());
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Invoked {
    response: InvocationResponse,
    failure: Option<String>,
    declared: Vec<Binding>,
    /// A forwarded function's response, sent to the caller as it is.
    forwarded: Option<HttpResponse>,
    /// The JSON body the runtime answers the host.
    answer: Value,
}

impl Invoked {
    fn failed(reason: String) -> Self {
        Self {
            response: InvocationResponse::default(),
            failure: Some(reason),
            declared: Vec::new(),
            forwarded: None,
            answer: Value::Null,
        }
    }

    /// The status and JSON body the runtime answers the host, for tests of the protocol
    /// itself: 200 with `{"Outputs", "Logs", "ReturnValue"}`, or 500 with the app's error body
    /// (`Null` for a forwarded function, whose caller gets [`Invoked::http`]).
    ///
    /// ```
    /// # use functions_custom_handler::bindings::{BlobOutput, QueueTrigger};
    /// # use functions_custom_handler::testing::{Event, TestClient};
    /// # use functions_custom_handler::{Function, FunctionApp, Outputs, service_fn};
    /// # const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
    /// # const COPY: BlobOutput = BlobOutput::new("copy", "copies/{rand-guid}");
    /// # let app = FunctionApp::new().function(Function::new("copy").trigger(ORDER).output(COPY)
    /// #     .handler(service_fn(|mut inv| async move { Ok(Outputs::new().set(&COPY, inv.trigger(&ORDER)?.body)) })));
    /// # actix_web::rt::System::new().block_on(async {
    /// let invoked = TestClient::new(app).unwrap().invoke("copy", Event::queue(&ORDER, "a")).await;
    /// let (status, body) = invoked.host_answer();
    /// assert_eq!((status, body["Outputs"]["copy"].as_str()), (200, Some("YQ==")));
    /// # });
    /// ```
    pub fn host_answer(&self) -> (u16, &Value) {
        let status = if self.failure.is_some() { 500 } else { 200 };
        (status, &self.answer)
    }

    /// Why the invocation failed, when it did: the host then retries a message or answers an
    /// HTTP caller 500, and applies no output.
    ///
    /// ```
    /// # use functions_custom_handler::bindings::{BlobOutput, QueueTrigger};
    /// # use functions_custom_handler::testing::{Event, TestClient};
    /// # use functions_custom_handler::{Function, FunctionApp, Outputs, service_fn};
    /// # const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
    /// # const COPY: BlobOutput = BlobOutput::new("copy", "copies/{rand-guid}");
    /// # let app = FunctionApp::new().function(Function::new("copy").trigger(ORDER).output(COPY)
    /// #     .handler(service_fn(|mut inv| async move { Ok(Outputs::new().set(&COPY, inv.trigger(&ORDER)?.body)) })));
    /// # actix_web::rt::System::new().block_on(async {
    /// let invoked = TestClient::new(app).unwrap().invoke("copy", Event::default()).await;
    /// assert!(invoked.failure().unwrap().contains("no queue message named `order`"));
    /// # });
    /// ```
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Whether the invocation completed.
    ///
    /// ```
    /// # use functions_custom_handler::bindings::{BlobOutput, QueueTrigger};
    /// # use functions_custom_handler::testing::{Event, TestClient};
    /// # use functions_custom_handler::{Function, FunctionApp, Outputs, service_fn};
    /// # const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
    /// # const COPY: BlobOutput = BlobOutput::new("copy", "copies/{rand-guid}");
    /// # let app = FunctionApp::new().function(Function::new("copy").trigger(ORDER).output(COPY)
    /// #     .handler(service_fn(|mut inv| async move { Ok(Outputs::new().set(&COPY, inv.trigger(&ORDER)?.body)) })));
    /// # actix_web::rt::System::new().block_on(async {
    /// let invoked = TestClient::new(app).unwrap().invoke("copy", Event::queue(&ORDER, "a")).await;
    /// assert!(invoked.succeeded());
    /// # });
    /// ```
    pub fn succeeded(&self) -> bool {
        self.failure.is_none()
    }

    /// The lines logged for the invocation: those the host logs from `Logs`, or, for a
    /// forwarded function, those written to the console. Empty when an invocation over the
    /// JSON protocol failed: its lines went to the console.
    ///
    /// ```
    /// # use functions_custom_handler::bindings::{BlobOutput, QueueTrigger};
    /// # use functions_custom_handler::testing::{Event, TestClient};
    /// # use functions_custom_handler::{Function, FunctionApp, Outputs, service_fn};
    /// # const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
    /// # const COPY: BlobOutput = BlobOutput::new("copy", "copies/{rand-guid}");
    /// # let app = FunctionApp::new().function(Function::new("copy").trigger(ORDER).output(COPY)
    /// #     .handler(service_fn(|mut inv| async move { Ok(Outputs::new().set(&COPY, inv.trigger(&ORDER)?.body)) })));
    /// # actix_web::rt::System::new().block_on(async {
    /// let invoked = TestClient::new(app).unwrap().invoke("copy", Event::queue(&ORDER, "a")).await;
    /// assert!(invoked.logs().is_empty());
    /// # });
    /// ```
    pub fn logs(&self) -> &[String] {
        &self.response.logs
    }

    /// The HTTP response the host sends for `output`, if the function set it: a forwarded
    /// function's as it built it, otherwise as the host reads the `http` output.
    ///
    /// ```
    /// # use functions_custom_handler::bindings::{HttpOutput, HttpTrigger};
    /// # use functions_custom_handler::testing::{Event, TestClient};
    /// # use functions_custom_handler::{Function, FunctionApp, HttpRequest, HttpResponse, Outputs, service_fn};
    /// const REQ: HttpTrigger = HttpTrigger::get("req", "ping");
    /// const RES: HttpOutput = HttpOutput::new("res");
    /// let app = FunctionApp::new().function(Function::new("ping").trigger(REQ).output(RES)
    ///     .handler(service_fn(|_| async { Ok(Outputs::new().set(&RES, HttpResponse::new(200).text("pong"))) })));
    /// # actix_web::rt::System::new().block_on(async {
    /// let request = HttpRequest::new("GET", "http://localhost/api/ping");
    /// let invoked = TestClient::new(app).unwrap().invoke("ping", Event::http(&REQ, request)).await;
    /// assert_eq!(invoked.http(&RES).unwrap().body.as_deref(), Some(&b"pong"[..]));
    /// # });
    /// ```
    pub fn http(&self, output: &HttpOutput) -> Option<HttpResponse> {
        if let Some(response) = &self.forwarded {
            return Some(response.clone());
        }
        self.response.http_output(&output.name)?.ok()
    }

    /// The bytes the host writes to the blob output `output`, if the function set it.
    ///
    /// ```
    /// # use functions_custom_handler::bindings::{BlobOutput, QueueTrigger};
    /// # use functions_custom_handler::testing::{Event, TestClient};
    /// # use functions_custom_handler::{Function, FunctionApp, Outputs, service_fn};
    /// # const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
    /// # const COPY: BlobOutput = BlobOutput::new("copy", "copies/{rand-guid}");
    /// # let app = FunctionApp::new().function(Function::new("copy").trigger(ORDER).output(COPY)
    /// #     .handler(service_fn(|mut inv| async move { Ok(Outputs::new().set(&COPY, inv.trigger(&ORDER)?.body)) })));
    /// # actix_web::rt::System::new().block_on(async {
    /// let invoked = TestClient::new(app).unwrap().invoke("copy", Event::queue(&ORDER, "a")).await;
    /// assert_eq!(invoked.blob(&COPY).unwrap(), "a");
    /// # });
    /// ```
    pub fn blob(&self, output: &crate::bindings::BlobOutput) -> Option<Bytes> {
        let bound = self.bound(output.name())?;
        Some(host::blob_content(bound).into())
    }

    /// The messages the host enqueues for `output`, in order.
    ///
    /// ```
    /// # use functions_custom_handler::bindings::{QueueOutput, QueueTrigger};
    /// # use functions_custom_handler::testing::{Event, TestClient};
    /// # use functions_custom_handler::{Function, FunctionApp, Outputs, service_fn};
    /// const IN: QueueTrigger = QueueTrigger::new("order", "orders");
    /// const OUT: QueueOutput = QueueOutput::new("lines", "lines");
    /// let app = FunctionApp::new().function(Function::new("split").trigger(IN).output(OUT)
    ///     .handler(service_fn(|_| async { Ok(Outputs::new().set(&OUT, "one").set(&OUT, "two")) })));
    /// # actix_web::rt::System::new().block_on(async {
    /// let invoked = TestClient::new(app).unwrap().invoke("split", Event::queue(&IN, "x")).await;
    /// assert_eq!(invoked.messages(&OUT), ["one", "two"]);
    /// # });
    /// ```
    pub fn messages(&self, output: &QueueOutput) -> Vec<Bytes> {
        self.bound(&output.name)
            .and_then(|bound| host::queue_messages(bound).ok())
            .unwrap_or_default()
            .into_iter()
            .map(Bytes::from)
            .collect()
    }

    /// The value the function set for the extension `output`, as the host hands it over:
    /// text the runtime sent as base64 is read back as the text.
    ///
    /// ```
    /// # use functions_custom_handler::bindings::{ExtensionOutput, QueueTrigger};
    /// # use functions_custom_handler::testing::{Event, TestClient};
    /// # use functions_custom_handler::{Function, FunctionApp, Outputs, service_fn};
    /// const IN: QueueTrigger = QueueTrigger::new("order", "orders");
    /// const ROW: ExtensionOutput = ExtensionOutput::new("table", "row");
    /// let app = FunctionApp::new().function(Function::new("save").trigger(IN).output(ROW)
    ///     .handler(service_fn(|_| async { Ok(Outputs::new().set(&ROW, serde_json::json!({"RowKey": "7"}))) })));
    /// # actix_web::rt::System::new().block_on(async {
    /// let invoked = TestClient::new(app).unwrap().invoke("save", Event::queue(&IN, "x")).await;
    /// assert_eq!(invoked.extension_value(&ROW).unwrap()["RowKey"], "7");
    /// # });
    /// ```
    pub fn extension_value(&self, output: &ExtensionOutput) -> Option<Value> {
        let value = self.response.output_value(&output.0.name)?.clone();
        let binary = self
            .declared
            .iter()
            .find(|b| b.name() == output.0.name)
            .and_then(Binding::data_type)
            == Some(crate::function_json::DataType::Binary);
        Some(match value {
            Value::String(text) if !binary => host::dotnet_base64(&text)
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .map_or(Value::String(text), Value::String),
            other => other,
        })
    }

    fn bound(&self, name: &str) -> Option<Bound> {
        let data_type = self
            .declared
            .iter()
            .find(|b| b.name() == name)
            .and_then(Binding::data_type);
        Bound::from_output(self.response.output_value(name)?, data_type)
    }
}

/// What the host sends for a value an extension bound as text: its JSON text (or the text
/// itself), serialised once more.
fn as_bound_text(value: Value) -> Value {
    let text = match value {
        Value::String(text) => text,
        other => other.to_string(),
    };
    host::host_encode(&Value::String(text))
}
