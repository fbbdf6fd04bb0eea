//! Typed declarations of triggers and bindings: each is a value, usually a `const`, that
//! names its binding once. The function's declaration takes it, and the handler reads its
//! input ([`crate::Invocation::trigger`], [`crate::Invocation::input`]) or sets its output
//! ([`crate::Outputs::set`]) through the same value, so a misspelt name does not compile.
//!
//! ```
//! use functions_custom_handler::bindings::{BlobOutput, QueueTrigger};
//! use functions_custom_handler::{Function, Invocation, InvocationError, Outputs, service_fn};
//!
//! const ORDER: QueueTrigger = QueueTrigger::new("order", "orders");
//! const RECEIPT: BlobOutput = BlobOutput::new("receipt", "receipts/{id}.txt");
//!
//! async fn receipt(mut inv: Invocation) -> Result<Outputs, InvocationError> {
//!     let order = inv.trigger(&ORDER)?;
//!     Ok(Outputs::new().set(&RECEIPT, format!("received: {}", order.text()?)))
//! }
//!
//! let function = Function::new("receipt")
//!     .trigger(ORDER)
//!     .output(RECEIPT)
//!     .handler(service_fn(receipt));
//! # assert!(function.validate().is_ok());
//! ```
//!
//! The types are the `function.json` model itself ([`crate::function_json`]): every property
//! of a binding can be set with a `const fn` builder, and what the manifest writes is exactly
//! what was declared.

use crate::events::{
    Blob, CloudEvent, EventGridEvent, EventHubBatch, EventHubEvent, QueueMessage, ServiceBusMessage,
};
use crate::function_json::{Binding, BlobBinding, Direction, Text};
use crate::outputs::{Outputs, Payload};
use crate::protocol::{DecodeError, HttpRequest, HttpResponse, InvocationRequest, TimerInfo};
use bytes::Bytes;
use serde_json::Value;
use std::borrow::Cow;

pub use crate::function_json::{
    AuthLevel, BlobSource, EventGridTrigger, EventHubTrigger, HttpMethod, HttpOutput, HttpTrigger,
    QueueOutput, QueueTrigger, ServiceBusTrigger, TimerTrigger,
};
pub use crate::function_json::{Cardinality, DataType, ExtensionBinding, Property};

mod sealed {
    pub trait Sealed {}
}

/// Anything a function declares: it becomes one entry of its `function.json`.
///
/// ```
/// use functions_custom_handler::bindings::{Declaration, QueueTrigger};
/// let binding = QueueTrigger::new("job", "jobs").binding();
/// assert_eq!((binding.name(), binding.type_name()), ("job", "queueTrigger"));
/// ```
pub trait Declaration: sealed::Sealed {
    /// The `function.json` entry.
    ///
    /// ```
    /// use functions_custom_handler::bindings::{Declaration, TimerTrigger};
    /// let timer = TimerTrigger::new("tick", "0 0 * * * *").binding();
    /// assert_eq!(serde_json::to_value(&timer).unwrap()["schedule"], "0 0 * * * *");
    /// ```
    fn binding(&self) -> Binding;
}

/// A trigger: what starts the function, and the event its handler receives.
///
/// ```
/// use functions_custom_handler::bindings::{QueueTrigger, Trigger};
/// use functions_custom_handler::events::QueueMessage;
/// fn event_of<T: Trigger>(_: &T) -> &'static str { std::any::type_name::<T::Event>() }
/// assert_eq!(event_of(&QueueTrigger::new("job", "jobs")), std::any::type_name::<QueueMessage>());
/// ```
pub trait Trigger: Declaration {
    /// The typed event, decoded from what the host sends.
    type Event;
    #[doc(hidden)]
    fn decode(&self, request: &mut InvocationRequest) -> Result<Self::Event, DecodeError>;
}

/// An input binding, read when the handler asks for it ([`crate::Invocation::input`]).
///
/// ```
/// use functions_custom_handler::bindings::{BlobInput, Input};
/// fn value_of<I: Input>(_: &I) -> &'static str { std::any::type_name::<I::Value>() }
/// assert!(value_of(&BlobInput::new("previous", "results/{id}.json")).contains("Option"));
/// ```
pub trait Input: Declaration {
    /// The typed value.
    type Value;
    #[doc(hidden)]
    fn decode(&self, request: &mut InvocationRequest) -> Result<Self::Value, DecodeError>;
}

/// An output binding, set through [`Outputs::set`].
///
/// ```
/// use functions_custom_handler::bindings::{HttpOutput, Output};
/// use functions_custom_handler::HttpResponse;
/// fn takes<O: Output>(_: &O, _: O::Value) {}
/// takes(&HttpOutput::new("res"), HttpResponse::new(204));
/// ```
pub trait Output: Declaration {
    /// What the handler sets it to.
    type Value;
    #[doc(hidden)]
    fn store(&self, outputs: &mut Outputs, value: Self::Value);
}

/// Moves the trigger's value out of `Data`: a trigger is read once.
fn required(
    request: &mut InvocationRequest,
    name: &str,
    what: &str,
) -> Result<serde_json::Value, DecodeError> {
    request
        .data
        .remove(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| {
            DecodeError::new(format!(
                "the invocation has no {what} named `{name}` in Data"
            ))
        })
}

macro_rules! declaration {
    ($type:ty, $variant:ident) => {
        impl sealed::Sealed for $type {}
        impl Declaration for $type {
            fn binding(&self) -> Binding {
                Binding::$variant(self.clone())
            }
        }
    };
}

declaration!(HttpTrigger, HttpTrigger);
declaration!(HttpOutput, Http);
declaration!(QueueTrigger, QueueTrigger);
declaration!(QueueOutput, Queue);
declaration!(crate::function_json::BlobTrigger, BlobTrigger);
declaration!(TimerTrigger, TimerTrigger);
declaration!(EventGridTrigger, EventGridTrigger);
declaration!(EventHubTrigger, EventHubTrigger);
declaration!(ServiceBusTrigger, ServiceBusTrigger);

pub use crate::function_json::BlobTrigger;

impl Trigger for HttpTrigger {
    type Event = HttpRequest;
    fn decode(&self, request: &mut InvocationRequest) -> Result<HttpRequest, DecodeError> {
        let taken = request.take_http_trigger(&self.name)?;
        request.data.remove(self.name.as_ref());
        Ok(taken)
    }
}

impl Trigger for QueueTrigger {
    type Event = QueueMessage;
    fn decode(&self, request: &mut InvocationRequest) -> Result<QueueMessage, DecodeError> {
        let value = required(request, &self.name, "queue message")?;
        let binary = self.data_type == Some(DataType::Binary);
        QueueMessage::decode(&self.name, &value, binary, &request.metadata)
    }
}

impl Trigger for BlobTrigger {
    type Event = Blob;
    fn decode(&self, request: &mut InvocationRequest) -> Result<Blob, DecodeError> {
        let value = required(request, &self.name, "blob")?;
        Blob::decode(&self.name, &value, &self.path, &request.metadata)
    }
}

impl Trigger for TimerTrigger {
    type Event = TimerInfo;
    fn decode(&self, request: &mut InvocationRequest) -> Result<TimerInfo, DecodeError> {
        let timer = request.timer(&self.name)?;
        request.data.remove(self.name.as_ref());
        Ok(timer)
    }
}

impl Trigger for EventGridTrigger {
    type Event = EventGridEvent;
    fn decode(&self, request: &mut InvocationRequest) -> Result<EventGridEvent, DecodeError> {
        EventGridEvent::decode(
            &self.name,
            &required(request, &self.name, "Event Grid event")?,
        )
    }
}

/// An `eventGridTrigger` whose subscription delivers CloudEvents 1.0
/// (`eventDeliverySchema: CloudEventSchemaV1_0`): its handler receives [`CloudEvent`]s.
///
/// ```
/// use functions_custom_handler::bindings::CloudEventTrigger;
/// const EVENT: CloudEventTrigger = CloudEventTrigger::new("event");
/// assert_eq!(EVENT.0.name, "event");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudEventTrigger(pub EventGridTrigger);

impl CloudEventTrigger {
    /// A trigger named `name`.
    ///
    /// ```
    /// use functions_custom_handler::bindings::CloudEventTrigger;
    /// assert_eq!(CloudEventTrigger::new("event").0.name, "event");
    /// ```
    pub const fn new(name: &'static str) -> Self {
        Self(EventGridTrigger::new(name))
    }
}

impl sealed::Sealed for CloudEventTrigger {}
impl Declaration for CloudEventTrigger {
    fn binding(&self) -> Binding {
        Binding::EventGridTrigger(self.0.clone())
    }
}

impl Trigger for CloudEventTrigger {
    type Event = CloudEvent;
    fn decode(&self, request: &mut InvocationRequest) -> Result<CloudEvent, DecodeError> {
        CloudEvent::decode(
            &self.0.name,
            &required(request, &self.0.name, "Event Grid event")?,
        )
    }
}

impl Trigger for EventHubTrigger {
    type Event = EventHubEvent;
    fn decode(&self, request: &mut InvocationRequest) -> Result<EventHubEvent, DecodeError> {
        let value = required(request, &self.name, "Event Hubs event")?;
        let binary = self.data_type == Some(DataType::Binary);
        EventHubEvent::decode(&self.name, &value, binary, &request.metadata)
    }
}

/// An `eventHubTrigger` with `cardinality: many`: its handler receives an [`EventHubBatch`].
///
/// ```
/// use functions_custom_handler::bindings::{EventHubBatchTrigger, EventHubTrigger};
/// const READINGS: EventHubBatchTrigger =
///     EventHubBatchTrigger::new(EventHubTrigger::new("readings", "telemetry"));
/// assert_eq!(READINGS.0.event_hub_name, "telemetry");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHubBatchTrigger(pub EventHubTrigger);

impl EventHubBatchTrigger {
    /// `trigger` with `cardinality: many`.
    ///
    /// ```
    /// use functions_custom_handler::bindings::{Cardinality, EventHubBatchTrigger, EventHubTrigger};
    /// let batch = EventHubBatchTrigger::new(EventHubTrigger::new("readings", "telemetry"));
    /// assert_eq!(batch.0.cardinality, Some(Cardinality::Many));
    /// ```
    pub const fn new(mut trigger: EventHubTrigger) -> Self {
        trigger.cardinality = Some(Cardinality::Many);
        Self(trigger)
    }
}

impl sealed::Sealed for EventHubBatchTrigger {}
impl Declaration for EventHubBatchTrigger {
    fn binding(&self) -> Binding {
        Binding::EventHubTrigger(self.0.clone())
    }
}

impl Trigger for EventHubBatchTrigger {
    type Event = EventHubBatch;
    fn decode(&self, request: &mut InvocationRequest) -> Result<EventHubBatch, DecodeError> {
        let value = required(request, &self.0.name, "Event Hubs batch")?;
        EventHubBatch::decode(&self.0.name, &value, self.0.data_type, &request.metadata)
    }
}

impl Trigger for ServiceBusTrigger {
    type Event = ServiceBusMessage;
    fn decode(&self, request: &mut InvocationRequest) -> Result<ServiceBusMessage, DecodeError> {
        let value = required(request, &self.name, "Service Bus message")?;
        let binary = self.data_type == Some(DataType::Binary);
        ServiceBusMessage::decode(&self.name, &value, binary, &request.metadata)
    }
}

/// A `blob` input: the blob's bytes, or `None` when it does not exist.
///
/// ```
/// use functions_custom_handler::bindings::BlobInput;
/// const PREVIOUS: BlobInput = BlobInput::new("previous", "results/{id}.json").connection("Archive");
/// assert_eq!(PREVIOUS.name(), "previous");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInput(BlobBinding);

impl BlobInput {
    /// An input named `name` reading `path` (binding expressions allowed), handed over as
    /// bytes (`dataType: binary`), through `AzureWebJobsStorage`.
    ///
    /// ```
    /// use functions_custom_handler::bindings::{BlobInput, Declaration};
    /// let binding = BlobInput::new("rows", "inputs/{jobId}.csv").binding();
    /// assert_eq!(binding.connection(), Some("AzureWebJobsStorage"));
    /// ```
    pub const fn new(name: &'static str, path: &'static str) -> Self {
        Self(BlobBinding {
            name: Cow::Borrowed(name),
            direction: Direction::In,
            path: Cow::Borrowed(path),
            connection: Some(Cow::Borrowed(crate::function_json::DEFAULT_CONNECTION)),
            data_type: Some(DataType::Binary),
        })
    }

    /// Reads through the connection in the app setting `setting`.
    ///
    /// ```
    /// use functions_custom_handler::bindings::{BlobInput, Declaration};
    /// let binding = BlobInput::new("rows", "inputs/{jobId}.csv").connection("Archive").binding();
    /// assert_eq!(binding.connection(), Some("Archive"));
    /// ```
    pub const fn connection(mut self, setting: &'static str) -> Self {
        // Nothing to drop at compile time: see `function_json`'s builders.
        std::mem::forget(self.0.connection.replace(Cow::Borrowed(setting)));
        self
    }

    /// Asks the host for the blob as text (`dataType: string`) instead of bytes.
    ///
    /// ```
    /// use functions_custom_handler::bindings::{BlobInput, DataType, Declaration};
    /// let binding = BlobInput::new("notes", "notes/{id}.txt").text().binding();
    /// assert_eq!(binding.data_type(), Some(DataType::String));
    /// ```
    pub const fn text(mut self) -> Self {
        self.0.data_type = Some(DataType::String);
        self
    }

    /// The binding name.
    ///
    /// ```
    /// use functions_custom_handler::bindings::BlobInput;
    /// assert_eq!(BlobInput::new("rows", "inputs/{jobId}.csv").name(), "rows");
    /// ```
    pub fn name(&self) -> &str {
        &self.0.name
    }
}

impl sealed::Sealed for BlobInput {}
impl Declaration for BlobInput {
    fn binding(&self) -> Binding {
        Binding::Blob(self.0.clone())
    }
}

impl Input for BlobInput {
    type Value = Option<Bytes>;
    fn decode(&self, request: &mut InvocationRequest) -> Result<Option<Bytes>, DecodeError> {
        Ok(request
            .input_bytes(&self.0.name, self.0.data_type)?
            .map(Bytes::from))
    }
}

/// A `blob` output: the handler sets text, bytes or JSON ([`Payload`]).
///
/// ```
/// use functions_custom_handler::bindings::BlobOutput;
/// const REPORT: BlobOutput = BlobOutput::new("report", "reports/{rand-guid}.csv");
/// assert_eq!(REPORT.name(), "report");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobOutput(BlobBinding);

impl BlobOutput {
    /// An output named `name` writing `path` (binding expressions allowed), through
    /// `AzureWebJobsStorage`.
    ///
    /// ```
    /// use functions_custom_handler::bindings::{BlobOutput, Declaration};
    /// let binding = BlobOutput::new("report", "reports/{rand-guid}.csv").binding();
    /// assert_eq!(binding.type_name(), "blob");
    /// ```
    pub const fn new(name: &'static str, path: &'static str) -> Self {
        Self(BlobBinding {
            name: Cow::Borrowed(name),
            direction: Direction::Out,
            path: Cow::Borrowed(path),
            connection: Some(Cow::Borrowed(crate::function_json::DEFAULT_CONNECTION)),
            data_type: None,
        })
    }

    /// Writes through the connection in the app setting `setting`.
    ///
    /// ```
    /// use functions_custom_handler::bindings::{BlobOutput, Declaration};
    /// let binding = BlobOutput::new("report", "reports/a.csv").connection("Reports").binding();
    /// assert_eq!(binding.connection(), Some("Reports"));
    /// ```
    pub const fn connection(mut self, setting: &'static str) -> Self {
        // Nothing to drop at compile time: see `function_json`'s builders.
        std::mem::forget(self.0.connection.replace(Cow::Borrowed(setting)));
        self
    }

    /// The binding name.
    ///
    /// ```
    /// use functions_custom_handler::bindings::BlobOutput;
    /// assert_eq!(BlobOutput::new("report", "reports/a.csv").name(), "report");
    /// ```
    pub fn name(&self) -> &str {
        &self.0.name
    }

    fn text_name(&self) -> &Text {
        &self.0.name
    }
}

impl sealed::Sealed for BlobOutput {}
impl Declaration for BlobOutput {
    fn binding(&self) -> Binding {
        Binding::Blob(self.0.clone())
    }
}

impl Output for BlobOutput {
    type Value = Payload;
    fn store(&self, outputs: &mut Outputs, value: Payload) {
        outputs.put_payload(self.text_name(), value);
    }
}

impl Output for HttpOutput {
    type Value = HttpResponse;
    fn store(&self, outputs: &mut Outputs, value: HttpResponse) {
        outputs.put_http(&self.name, value);
    }
}

impl Output for QueueOutput {
    type Value = Payload;
    fn store(&self, outputs: &mut Outputs, value: Payload) {
        outputs.push_message(&self.name, value);
    }
}

/// Any `function.json` entry, for a binding this crate has no typed declaration for.
impl sealed::Sealed for Binding {}
impl Declaration for Binding {
    fn binding(&self) -> Binding {
        self.clone()
    }
}

/// Generates the builders the three extension declarations share.
macro_rules! extension_declaration {
    ($type:ident) => {
        impl $type {
            /// Sets the properties written in code, as the extension's documentation names
            /// them.
            ///
            /// ```
            #[doc = concat!("use functions_custom_handler::bindings::{Property, ", stringify!($type), "};")]
            #[doc = concat!("const X: ", stringify!($type), " = ", stringify!($type), "::new(\"table\", \"row\")")]
            ///     .properties(&[("tableName", Property::Text("orders")), ("take", Property::Number(50))]);
            /// assert_eq!(X.0.property_value("take").unwrap(), 50);
            /// ```
            pub const fn properties(mut self, properties: &'static [(&'static str, Property)]) -> Self {
                // A const fn cannot drop: swap a placeholder in and forget it (it holds only
                // borrowed literals, so nothing leaks).
                let placeholder = ExtensionBinding::new("", Direction::In, "");
                let binding = std::mem::replace(&mut self.0, placeholder);
                std::mem::forget(std::mem::replace(&mut self.0, binding.properties(properties)));
                self
            }

            /// Adds (or replaces) the property `name` with any JSON value.
            ///
            /// ```
            #[doc = concat!("use functions_custom_handler::bindings::", stringify!($type), ";")]
            #[doc = concat!("let x = ", stringify!($type), "::new(\"table\", \"row\").property(\"tableName\", \"orders\");")]
            /// assert_eq!(x.0.property_value("tableName").unwrap(), "orders");
            /// ```
            pub fn property(self, name: impl Into<String>, value: impl Into<Value>) -> Self {
                Self(self.0.property(name, value))
            }
        }

        impl sealed::Sealed for $type {}
        impl Declaration for $type {
            fn binding(&self) -> Binding {
                Binding::Extension(self.0.clone())
            }
        }
    };
}

/// The trigger of an extension this runtime has no type for (Cosmos DB, Kafka, RabbitMQ,
/// SQL, ...): its handler receives the value the extension bound, as JSON.
///
/// For an extension without a binding rule of its own the host binds the value as text
/// (`JobHostMetadataProvider.GetDefaultType`, azure-webjobs-sdk), which it then sends as a
/// JSON string ([`crate::protocol::host::host_encode`]). The runtime reads that string back,
/// and text that holds a JSON object or array (a change feed's documents) is parsed too; any
/// other text stays a string. With `dataType: binary` the host sends base64, handed over as
/// it is.
///
/// ```
/// use functions_custom_handler::bindings::{ExtensionTrigger, Property};
/// const CHANGES: ExtensionTrigger = ExtensionTrigger::new("cosmosDBTrigger", "documents").properties(&[
///     ("connection", Property::Text("CosmosConnection")),
///     ("databaseName", Property::Text("shop")),
///     ("containerName", Property::Text("orders")),
///     ("createLeaseContainerIfNotExists", Property::Bool(true)),
/// ]);
/// assert_eq!(CHANGES.0.name, "documents");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionTrigger(pub ExtensionBinding);

impl ExtensionTrigger {
    /// A trigger of type `type_name` (which, as the host requires, ends in `Trigger`) named
    /// `name`.
    ///
    /// ```
    /// use functions_custom_handler::bindings::{Declaration, ExtensionTrigger};
    /// assert!(ExtensionTrigger::new("kafkaTrigger", "event").binding().is_trigger());
    /// ```
    pub const fn new(type_name: &'static str, name: &'static str) -> Self {
        Self(ExtensionBinding::new(type_name, Direction::In, name))
    }
}

extension_declaration!(ExtensionTrigger);

impl Trigger for ExtensionTrigger {
    type Event = Value;
    fn decode(&self, request: &mut InvocationRequest) -> Result<Value, DecodeError> {
        let value = request.data.remove(self.0.name.as_ref()).ok_or_else(|| {
            DecodeError::new(format!(
                "the invocation has no {} value named `{}` in Data",
                self.0.type_name, self.0.name
            ))
        })?;
        Ok(extension_value(value, self.0.data_type()))
    }
}

/// An extension's value as the handler receives it: see [`ExtensionTrigger`].
fn extension_value(sent: Value, data_type: Option<DataType>) -> Value {
    if data_type == Some(DataType::Binary) {
        return sent;
    }
    match crate::protocol::host::host_decode(sent) {
        Value::String(text) if text.trim_start().starts_with(['{', '[']) => {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        }
        other => other,
    }
}

/// An input binding of an extension this runtime has no type for (a Cosmos DB document, a
/// table's rows, ...): the value the extension bound, read as for [`ExtensionTrigger`], or
/// `null` when the host sends none.
///
/// ```
/// use functions_custom_handler::bindings::{ExtensionInput, Property};
/// const CUSTOMER: ExtensionInput = ExtensionInput::new("cosmosDB", "customer").properties(&[
///     ("databaseName", Property::Text("shop")),
///     ("containerName", Property::Text("customers")),
///     ("id", Property::Text("{customerId}")),
///     ("partitionKey", Property::Text("{customerId}")),
/// ]);
/// assert_eq!(CUSTOMER.0.name, "customer");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionInput(pub ExtensionBinding);

impl ExtensionInput {
    /// An input of type `type_name` named `name`.
    ///
    /// ```
    /// use functions_custom_handler::bindings::{Declaration, ExtensionInput};
    /// assert_eq!(ExtensionInput::new("table", "rows").binding().type_name(), "table");
    /// ```
    pub const fn new(type_name: &'static str, name: &'static str) -> Self {
        Self(ExtensionBinding::new(type_name, Direction::In, name))
    }
}

extension_declaration!(ExtensionInput);

impl Input for ExtensionInput {
    type Value = Value;
    fn decode(&self, request: &mut InvocationRequest) -> Result<Value, DecodeError> {
        Ok(request
            .data
            .remove(self.0.name.as_ref())
            .map_or(Value::Null, |sent| {
                extension_value(sent, self.0.data_type())
            }))
    }
}

/// An output binding of an extension this runtime has no type for (a Cosmos DB document, a
/// table row, a SignalR message, a Service Bus or Event Hubs message, ...): the handler sets
/// a JSON value, which the host hands to the extension.
///
/// The host reads any output string it can as base64 (`GetBindingValue`,
/// `Workers/Http/HttpScriptInvocationResultExtensions.cs`), and the bytes it gets reach only
/// an extension that takes bytes. So text goes as it is, except text the host would take for
/// base64 (`"done"`, `"1234"`), which goes as base64 of its UTF-8 so the bytes are at least
/// its own. For text that must stay text whatever it says, declare `dataType: binary`
/// (`.property("dataType", "binary")`): the host then passes strings through unread.
///
/// ```
/// use functions_custom_handler::bindings::{ExtensionOutput, Property};
/// use functions_custom_handler::Outputs;
/// const ORDER: ExtensionOutput = ExtensionOutput::new("cosmosDB", "order").properties(&[
///     ("databaseName", Property::Text("shop")),
///     ("containerName", Property::Text("orders")),
/// ]);
/// let outputs = Outputs::new().set(&ORDER, serde_json::json!({"id": "7", "total": 12.5}));
/// assert_eq!(outputs.extension_value(&ORDER).unwrap()["total"], 12.5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionOutput(pub ExtensionBinding);

impl ExtensionOutput {
    /// An output of type `type_name` named `name`.
    ///
    /// ```
    /// use functions_custom_handler::bindings::{Declaration, ExtensionOutput};
    /// assert_eq!(ExtensionOutput::new("signalR", "message").binding().name(), "message");
    /// ```
    pub const fn new(type_name: &'static str, name: &'static str) -> Self {
        Self(ExtensionBinding::new(type_name, Direction::Out, name))
    }
}

extension_declaration!(ExtensionOutput);

impl Output for ExtensionOutput {
    type Value = Value;
    fn store(&self, outputs: &mut Outputs, value: Value) {
        outputs.put_value(&self.0.name, value);
    }
}
