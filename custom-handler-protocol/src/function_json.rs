//! The `function.json` model: bindings as typed values, shared by the handler (which writes the
//! files) and a local host (which reads them).
//!
//! The binding types this runtime knows are typed; any other type is an [`ExtensionBinding`]
//! (Cosmos DB, Table, SignalR, ...), its properties kept as written. A known type spelt in
//! another case is an error whose sentence names it, so that typo fails loudly.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// The storage connection setting bindings use unless told otherwise.
pub const DEFAULT_CONNECTION: &str = "AzureWebJobsStorage";

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The spelling used in JSON files.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            // The host parses these case-insensitively, so hand-written files may say "GET".
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $(if s.eq_ignore_ascii_case($text) {
                    return Ok(Self::$variant);
                })+
                Err(format!(
                    "`{s}` is not a valid {} (expected one of: {})",
                    stringify!($name),
                    [$($text),+].join(", ")
                ))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(D::Error::custom)
            }
        }
    };
}

string_enum! {
    /// Which way data flows through a binding.
    Direction { /// Into the function (triggers and input bindings).
    In = "in", /// Out of the function.
    Out = "out", /// Both ways (blobs only).
    InOut = "inout" }
}

string_enum! {
    /// Which key an HTTP trigger requires.
    AuthLevel { /// No key.
    Anonymous = "anonymous", /// A function or host key.
    Function = "function", /// The master key.
    Admin = "admin" }
}

string_enum! {
    /// An HTTP method an HTTP trigger accepts.
    HttpMethod { /// GET
    Get = "get", /// POST
    Post = "post", /// PUT
    Put = "put", /// DELETE
    Delete = "delete", /// PATCH
    Patch = "patch", /// HEAD
    Head = "head", /// OPTIONS
    Options = "options", /// TRACE
    Trace = "trace" }
}

string_enum! {
    /// How the host hands a binding's value over.
    DataType { /// As text.
    String = "string", /// As bytes (base64 in the JSON protocol).
    Binary = "binary", /// As a stream (not meaningful for custom handlers).
    Stream = "stream" }
}

/// A text field of a binding: a `&'static str` in a declaration written in code (so
/// declarations can be `const`), an owned string when read from a file.
pub type Text = Cow<'static, str>;

/// Sets the optional text `slot` in a `const fn`, where the old value cannot be dropped: it
/// is `None` or a borrowed literal when the builder runs at compile time, so forgetting it
/// leaks nothing.
macro_rules! set {
    ($slot:expr, $value:expr) => {
        std::mem::forget($slot.replace($value))
    };
}

/// Builders shared by the bindings that read from Azure Storage or a service connection.
macro_rules! connection_builder {
    () => {
        /// Reads the connection from the app setting `setting` (or the settings prefixed
        /// `setting__` for an identity-based connection) instead of the default.
        pub const fn connection(mut self, setting: &'static str) -> Self {
            set!(self.connection, Cow::Borrowed(setting));
            self
        }
    };
}

/// An `httpTrigger` binding.
///
/// ```
/// use functions_custom_handler_protocol::function_json::{AuthLevel, HttpMethod, HttpTrigger};
/// const REQ: HttpTrigger = HttpTrigger::new("req", "items/{id}")
///     .methods(&[HttpMethod::Get, HttpMethod::Put])
///     .auth(AuthLevel::Anonymous);
/// assert!(REQ.accepts("PUT"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTrigger {
    /// The binding name: the key of the request in `Data`.
    pub name: Text,
    /// Which key callers need.
    pub auth_level: AuthLevel,
    /// Accepted methods; empty accepts every method.
    pub methods: Cow<'static, [HttpMethod]>,
    /// The route template after the route prefix (`jobs/{id}`); `None` uses the function name.
    pub route: Option<Text>,
}

impl HttpTrigger {
    /// A trigger named `name` on `route` for every method, requiring a function key.
    pub const fn new(name: &'static str, route: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
            auth_level: AuthLevel::Function,
            methods: Cow::Borrowed(&[]),
            route: Some(Cow::Borrowed(route)),
        }
    }

    /// A trigger for `GET route`.
    pub const fn get(name: &'static str, route: &'static str) -> Self {
        Self::new(name, route).methods(&[HttpMethod::Get])
    }

    /// A trigger for `POST route`.
    pub const fn post(name: &'static str, route: &'static str) -> Self {
        Self::new(name, route).methods(&[HttpMethod::Post])
    }

    /// Accepts only `methods`.
    pub const fn methods(mut self, methods: &'static [HttpMethod]) -> Self {
        std::mem::forget(std::mem::replace(&mut self.methods, Cow::Borrowed(methods)));
        self
    }

    /// Sets the authorization level.
    pub const fn auth(mut self, level: AuthLevel) -> Self {
        self.auth_level = level;
        self
    }

    /// Whether the trigger accepts `method` (compared ignoring case).
    pub fn accepts(&self, method: &str) -> bool {
        self.methods.is_empty()
            || self
                .methods
                .iter()
                .any(|m| method.eq_ignore_ascii_case(m.as_str()))
    }
}

/// An `http` output binding: the response to the HTTP caller.
///
/// ```
/// use functions_custom_handler_protocol::function_json::HttpOutput;
/// const RES: HttpOutput = HttpOutput::new("res");
/// assert_eq!(RES.name, "res");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOutput {
    /// The binding name: the key of the response in `Outputs` (`$return` for `ReturnValue`).
    pub name: Text,
}

impl HttpOutput {
    /// An `http` output named `name`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
        }
    }
}

/// A `queueTrigger` binding: one Azure Storage queue message per invocation.
///
/// ```
/// use functions_custom_handler_protocol::function_json::QueueTrigger;
/// const ORDER: QueueTrigger = QueueTrigger::new("order", "orders").connection("OrdersStorage");
/// assert_eq!(ORDER.queue_name, "orders");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTrigger {
    /// The binding name: the key of the message in `Data`.
    pub name: Text,
    /// The queue to listen on (`%SETTING%` reads an app setting).
    pub queue_name: Text,
    /// The app setting holding the storage connection.
    pub connection: Option<Text>,
    /// How the message is handed over: text (none or `string`) or base64 (`binary`).
    pub data_type: Option<DataType>,
}

impl QueueTrigger {
    /// A trigger named `name` on the queue `queue_name`, through `AzureWebJobsStorage`.
    pub const fn new(name: &'static str, queue_name: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
            queue_name: Cow::Borrowed(queue_name),
            connection: Some(Cow::Borrowed(DEFAULT_CONNECTION)),
            data_type: None,
        }
    }

    connection_builder!();

    /// Sets `dataType`: `Binary` hands the message over as base64, for bytes that are not text.
    pub const fn data_type(mut self, data_type: DataType) -> Self {
        self.data_type = Some(data_type);
        self
    }
}

/// A `queue` output binding.
///
/// ```
/// use functions_custom_handler_protocol::function_json::QueueOutput;
/// const NEXT: QueueOutput = QueueOutput::new("next", "shipments");
/// assert_eq!(NEXT.name, "next");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOutput {
    /// The binding name: the key of the message(s) in `Outputs`.
    pub name: Text,
    /// The queue to add messages to.
    pub queue_name: Text,
    /// The app setting holding the storage connection.
    pub connection: Option<Text>,
    /// `binary` stops the host from decoding base64 strings into bytes (see the protocol docs).
    pub data_type: Option<DataType>,
}

impl QueueOutput {
    /// An output named `name` to the queue `queue_name`, through `AzureWebJobsStorage`.
    pub const fn new(name: &'static str, queue_name: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
            queue_name: Cow::Borrowed(queue_name),
            connection: Some(Cow::Borrowed(DEFAULT_CONNECTION)),
            data_type: None,
        }
    }

    connection_builder!();
}

/// A `blob` binding as function.json holds it: input, output or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobBinding {
    /// The binding name.
    pub name: Text,
    /// In, out or both.
    pub direction: Direction,
    /// `container/blob` path; may use binding expressions such as `results/{jobId}.json`.
    pub path: Text,
    /// The app setting holding the storage connection.
    pub connection: Option<Text>,
    /// How the content is handed over.
    pub data_type: Option<DataType>,
}

/// Where a blob trigger learns of new blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobSource {
    /// Polling the container and its logs (not available on Flex Consumption).
    LogsAndContainerScan,
    /// An Event Grid subscription to the host's blob extension webhook.
    EventGrid,
}

impl BlobSource {
    /// The spelling used in function.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LogsAndContainerScan => "LogsAndContainerScan",
            Self::EventGrid => "EventGrid",
        }
    }
}

impl FromStr for BlobSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::LogsAndContainerScan, Self::EventGrid]
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("`{s}` is not a blob trigger source (expected LogsAndContainerScan or EventGrid)")
            })
    }
}

/// A `blobTrigger` binding: one invocation per new or updated blob under `path`.
///
/// ```
/// use functions_custom_handler_protocol::function_json::{BlobSource, BlobTrigger};
/// const UPLOAD: BlobTrigger = BlobTrigger::new("upload", "uploads/{name}").source(BlobSource::EventGrid);
/// assert_eq!(UPLOAD.path, "uploads/{name}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobTrigger {
    /// The binding name: the key of the content in `Data`.
    pub name: Text,
    /// `container/{pattern}`; names in braces become binding data (`{name}`).
    pub path: Text,
    /// The app setting holding the storage connection.
    pub connection: Option<Text>,
    /// How the content is handed over; a blob trigger's content is bytes, so `binary`.
    pub data_type: Option<DataType>,
    /// Polling (the default) or Event Grid, which Flex Consumption requires.
    pub source: Option<BlobSource>,
}

impl BlobTrigger {
    /// A trigger named `name` on blobs matching `path`, handed over as bytes.
    pub const fn new(name: &'static str, path: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
            path: Cow::Borrowed(path),
            connection: Some(Cow::Borrowed(DEFAULT_CONNECTION)),
            data_type: Some(DataType::Binary),
            source: None,
        }
    }

    connection_builder!();

    /// Sets how the host learns of new blobs.
    pub const fn source(mut self, source: BlobSource) -> Self {
        self.source = Some(source);
        self
    }
}

/// A `timerTrigger` binding.
///
/// ```
/// use functions_custom_handler_protocol::function_json::TimerTrigger;
/// const NIGHTLY: TimerTrigger = TimerTrigger::new("timer", "0 30 2 * * *").run_on_startup(true);
/// assert_eq!(NIGHTLY.run_on_startup, Some(true));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerTrigger {
    /// The binding name.
    pub name: Text,
    /// A six-field NCRONTAB expression, seconds first (or `%SETTING%`).
    pub schedule: Text,
    /// Whether to fire once when the host starts.
    pub run_on_startup: Option<bool>,
    /// Whether to record runs in storage, so a run missed while the app was down fires late
    /// (`IsPastDue`); the host's default is on for schedules of a minute or more.
    pub use_monitor: Option<bool>,
}

impl TimerTrigger {
    /// A timer named `name` on the six-field NCRONTAB `schedule`.
    pub const fn new(name: &'static str, schedule: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
            schedule: Cow::Borrowed(schedule),
            run_on_startup: None,
            use_monitor: None,
        }
    }

    /// Sets `runOnStartup`.
    pub const fn run_on_startup(mut self, on: bool) -> Self {
        self.run_on_startup = Some(on);
        self
    }

    /// Sets `useMonitor`.
    pub const fn use_monitor(mut self, on: bool) -> Self {
        self.use_monitor = Some(on);
        self
    }
}

/// An `eventGridTrigger` binding: one Event Grid event per invocation, as a JSON object.
///
/// ```
/// use functions_custom_handler_protocol::function_json::EventGridTrigger;
/// const EVENT: EventGridTrigger = EventGridTrigger::new("event");
/// assert_eq!(EVENT.name, "event");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGridTrigger {
    /// The binding name.
    pub name: Text,
}

impl EventGridTrigger {
    /// A trigger named `name`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
        }
    }
}

/// Whether a trigger hands over one event or a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cardinality {
    /// One event per invocation (the host's default).
    One,
    /// A batch per invocation.
    Many,
}

impl Cardinality {
    /// The spelling used in function.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::One => "one",
            Self::Many => "many",
        }
    }
}

impl FromStr for Cardinality {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::One, Self::Many]
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("`{s}` is not a cardinality (expected one or many)"))
    }
}

/// An `eventHubTrigger` binding.
///
/// ```
/// use functions_custom_handler_protocol::function_json::EventHubTrigger;
/// const READINGS: EventHubTrigger = EventHubTrigger::new("reading", "telemetry")
///     .consumer_group("scoring")
///     .connection("TelemetryHub");
/// assert_eq!(READINGS.event_hub_name, "telemetry");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHubTrigger {
    /// The binding name.
    pub name: Text,
    /// The event hub to read.
    pub event_hub_name: Text,
    /// The consumer group; the host's default is `$Default`.
    pub consumer_group: Option<Text>,
    /// The app setting holding the Event Hubs connection.
    pub connection: Option<Text>,
    /// One event per invocation or a batch.
    pub cardinality: Option<Cardinality>,
    /// How each event body is handed over.
    pub data_type: Option<DataType>,
}

impl EventHubTrigger {
    /// A trigger named `name` on the event hub `event_hub_name`, one event per invocation.
    pub const fn new(name: &'static str, event_hub_name: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
            event_hub_name: Cow::Borrowed(event_hub_name),
            consumer_group: None,
            connection: None,
            cardinality: Some(Cardinality::One),
            data_type: None,
        }
    }

    connection_builder!();

    /// Reads through the consumer group `group`.
    pub const fn consumer_group(mut self, group: &'static str) -> Self {
        set!(self.consumer_group, Cow::Borrowed(group));
        self
    }

    /// Sets `dataType`: `Binary` hands each body over as base64 bytes.
    pub const fn data_type(mut self, data_type: DataType) -> Self {
        self.data_type = Some(data_type);
        self
    }
}

/// A `serviceBusTrigger` binding, on a queue or a topic's subscription.
///
/// ```
/// use functions_custom_handler_protocol::function_json::ServiceBusTrigger;
/// const INVOICE: ServiceBusTrigger = ServiceBusTrigger::queue("invoice", "invoices").connection("Billing");
/// const AUDIT: ServiceBusTrigger = ServiceBusTrigger::topic("entry", "ledger", "audit");
/// assert_eq!(AUDIT.subscription_name.as_deref(), Some("audit"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceBusTrigger {
    /// The binding name.
    pub name: Text,
    /// The queue to read (or `None` with a topic).
    pub queue_name: Option<Text>,
    /// The topic to read through `subscription_name`.
    pub topic_name: Option<Text>,
    /// The topic's subscription.
    pub subscription_name: Option<Text>,
    /// The app setting holding the Service Bus connection.
    pub connection: Option<Text>,
    /// Whether the entity needs sessions.
    pub is_sessions_enabled: Option<bool>,
    /// Whether the host completes a message after a successful invocation (its default).
    pub auto_complete_messages: Option<bool>,
    /// How the body is handed over.
    pub data_type: Option<DataType>,
}

impl ServiceBusTrigger {
    /// A trigger named `name` on the queue `queue_name`.
    pub const fn queue(name: &'static str, queue_name: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
            queue_name: Some(Cow::Borrowed(queue_name)),
            topic_name: None,
            subscription_name: None,
            connection: None,
            is_sessions_enabled: None,
            auto_complete_messages: None,
            data_type: None,
        }
    }

    /// A trigger named `name` on the subscription `subscription` of the topic `topic`.
    pub const fn topic(
        name: &'static str,
        topic: &'static str,
        subscription: &'static str,
    ) -> Self {
        Self {
            name: Cow::Borrowed(name),
            queue_name: None,
            topic_name: Some(Cow::Borrowed(topic)),
            subscription_name: Some(Cow::Borrowed(subscription)),
            connection: None,
            is_sessions_enabled: None,
            auto_complete_messages: None,
            data_type: None,
        }
    }

    connection_builder!();

    /// Sets `isSessionsEnabled`.
    pub const fn sessions(mut self, enabled: bool) -> Self {
        self.is_sessions_enabled = Some(enabled);
        self
    }

    /// Sets `autoCompleteMessages`.
    pub const fn auto_complete(mut self, enabled: bool) -> Self {
        self.auto_complete_messages = Some(enabled);
        self
    }

    /// Sets `dataType`: `Binary` hands the body over as base64 bytes.
    pub const fn data_type(mut self, data_type: DataType) -> Self {
        self.data_type = Some(data_type);
        self
    }
}

/// A property of an [`ExtensionBinding`] declared in code: what its `function.json` entry
/// holds under that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// A string, such as `"databaseName": "orders"` (`%SETTING%` reads an app setting).
    Text(&'static str),
    /// A boolean, such as `"createIfNotExists": true`.
    Bool(bool),
    /// A whole number, such as `"maxItemsPerInvocation": 100`.
    Number(i64),
}

impl From<Property> for serde_json::Value {
    fn from(property: Property) -> Self {
        match property {
            Property::Text(text) => text.into(),
            Property::Bool(b) => b.into(),
            Property::Number(n) => n.into(),
        }
    }
}

/// A binding of an extension this runtime has no type for (Cosmos DB, Table, SignalR, a
/// Service Bus or Event Hubs output, ...): its `type`, `direction` and `name`, and its other
/// properties as the extension's documentation names them. The host hands its value over as
/// JSON and takes an output's value as JSON.
///
/// ```
/// use functions_custom_handler_protocol::function_json::{Binding, Direction, ExtensionBinding, Property};
///
/// const ORDERS: ExtensionBinding = ExtensionBinding::new("cosmosDB", Direction::Out, "order")
///     .properties(&[
///         ("databaseName", Property::Text("shop")),
///         ("containerName", Property::Text("orders")),
///         ("connection", Property::Text("CosmosConnection")),
///         ("createIfNotExists", Property::Bool(true)),
///     ]);
/// let entry = serde_json::to_value(Binding::from(ORDERS)).unwrap();
/// assert_eq!(entry["type"], "cosmosDB");
/// assert_eq!(entry["createIfNotExists"], true);
/// ```
#[derive(Debug, Clone)]
pub struct ExtensionBinding {
    /// The binding's `type`, such as `cosmosDBTrigger` or `table`.
    pub type_name: Text,
    /// Which way its data flows.
    pub direction: Direction,
    /// The binding name: the key of its value in `Data` or `Outputs`.
    pub name: Text,
    declared: &'static [(&'static str, Property)],
    added: Vec<(String, serde_json::Value)>,
}

impl ExtensionBinding {
    /// A binding of type `type_name` named `name`, without properties.
    pub const fn new(type_name: &'static str, direction: Direction, name: &'static str) -> Self {
        Self {
            type_name: Cow::Borrowed(type_name),
            direction,
            name: Cow::Borrowed(name),
            declared: &[],
            added: Vec::new(),
        }
    }

    /// Sets the properties written in code (`function.json` lists them after `type`,
    /// `direction` and `name`).
    pub const fn properties(mut self, properties: &'static [(&'static str, Property)]) -> Self {
        self.declared = properties;
        self
    }

    /// Adds (or replaces) the property `name` with any JSON value, for a value known only at
    /// run time or that is not text, a boolean or a whole number.
    ///
    /// ```
    /// use functions_custom_handler_protocol::function_json::{Direction, ExtensionBinding};
    /// let hub = ExtensionBinding::new("signalR", Direction::Out, "message")
    ///     .property("hubName", format!("chat-{}", 3));
    /// assert_eq!(hub.property_value("hubName").unwrap(), "chat-3");
    /// ```
    pub fn property(
        mut self,
        name: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        let name = name.into();
        self.added.retain(|(n, _)| *n != name);
        self.added.push((name, value.into()));
        self
    }

    /// The property `name`, if the binding has it.
    pub fn property_value(&self, name: &str) -> Option<serde_json::Value> {
        self.property_map().remove(name)
    }

    /// Every property besides `type`, `direction` and `name` (which are the binding's own
    /// fields: a property of those names is left out, see [`ExtensionBinding::check`]); one
    /// added later replaces one declared.
    pub fn property_map(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = serde_json::Map::new();
        let declared = self.declared.iter().map(|(n, v)| (*n, (*v).into()));
        let added = self.added.iter().map(|(n, v)| (n.as_str(), v.clone()));
        for (name, value) in declared.chain(added) {
            if !is_reserved(name) {
                map.insert(name.to_string(), value);
            }
        }
        map
    }

    /// Whether the binding can be written as declared: no property named `type`, `direction`
    /// or `name` (in any case: the host reads keys case-insensitively), and a type that is
    /// not one this runtime has a model for (those have their own declarations).
    ///
    /// ```
    /// use functions_custom_handler_protocol::function_json::{Direction, ExtensionBinding};
    /// let renamed = ExtensionBinding::new("table", Direction::Out, "row").property("Name", "x");
    /// assert!(renamed.check().unwrap_err().contains("`Name`"));
    /// assert!(ExtensionBinding::new("queue", Direction::Out, "q").check().is_err());
    /// ```
    pub fn check(&self) -> Result<(), String> {
        let names = self.declared.iter().map(|(n, _)| *n);
        if let Some(reserved) = names
            .chain(self.added.iter().map(|(n, _)| n.as_str()))
            .find(|n| is_reserved(n))
        {
            return Err(format!(
                "the `{}` binding `{}` sets the property `{reserved}`, which is the binding's own field",
                self.type_name, self.name
            ));
        }
        if let Some(known) = SUPPORTED_TYPES
            .split(", ")
            .find(|t| t.eq_ignore_ascii_case(&self.type_name))
        {
            return Err(format!(
                "the binding `{}` has type `{}`, which has a typed declaration: use the `{known}` one",
                self.name, self.type_name
            ));
        }
        Ok(())
    }

    /// The declared `dataType`, if it names one.
    ///
    /// ```
    /// use functions_custom_handler_protocol::function_json::{DataType, Direction, ExtensionBinding};
    /// let note = ExtensionBinding::new("serviceBus", Direction::Out, "note").property("dataType", "binary");
    /// assert_eq!(note.data_type(), Some(DataType::Binary));
    /// ```
    pub fn data_type(&self) -> Option<DataType> {
        self.text_property("dataType").and_then(|t| t.parse().ok())
    }

    /// The text of the property `name`, found as the host finds it (in any case), if it is
    /// text.
    fn text_property(&self, name: &str) -> Option<&str> {
        let added = self
            .added
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        match added {
            Some((_, value)) => value.as_str(),
            None => match self
                .declared
                .iter()
                .rev()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                Some((_, Property::Text(text))) => Some(text),
                _ => None,
            },
        }
    }
}

/// The keys of a binding entry that are its own fields.
fn is_reserved(key: &str) -> bool {
    ["type", "direction", "name"]
        .iter()
        .any(|r| r.eq_ignore_ascii_case(key))
}

impl ExtensionBinding {
    /// Reads a `function.json` entry of a type this runtime has no type for.
    fn from_entry(entry: serde_json::Value) -> Result<Self, String> {
        let serde_json::Value::Object(mut map) = entry else {
            return Err("a binding is not a JSON object".into());
        };
        let mut text = |field: &str| match map.remove(field) {
            Some(serde_json::Value::String(text)) => Ok(text),
            _ => Err(field.to_string()),
        };
        let type_name = text("type").map_err(|_| "a binding has no `type`".to_string())?;
        let name = text("name").map_err(|_| format!("the `{type_name}` binding has no `name`"))?;
        let direction = text("direction")
            .map_err(|_| format!("the binding `{name}` of type `{type_name}` has no `direction`"))?
            .parse()
            .map_err(|e| format!("the binding `{name}` of type `{type_name}`: {e}"))?;
        Ok(Self {
            type_name: Cow::Owned(type_name),
            direction,
            name: Cow::Owned(name),
            declared: &[],
            added: map.into_iter().collect(),
        })
    }
}

impl PartialEq for ExtensionBinding {
    fn eq(&self, other: &Self) -> bool {
        self.type_name == other.type_name
            && self.direction == other.direction
            && self.name == other.name
            && self.property_map() == other.property_map()
    }
}

impl Eq for ExtensionBinding {}

/// One entry of `function.json`'s `bindings`, tagged by its `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Binding {
    /// `httpTrigger`, direction in.
    HttpTrigger(HttpTrigger),
    /// `http`, direction out.
    Http(HttpOutput),
    /// `queueTrigger`, direction in.
    QueueTrigger(QueueTrigger),
    /// `queue`, direction out.
    Queue(QueueOutput),
    /// `blob`, direction in, out or inout.
    Blob(BlobBinding),
    /// `blobTrigger`, direction in.
    BlobTrigger(BlobTrigger),
    /// `timerTrigger`, direction in.
    TimerTrigger(TimerTrigger),
    /// `eventGridTrigger`, direction in.
    EventGridTrigger(EventGridTrigger),
    /// `eventHubTrigger`, direction in.
    EventHubTrigger(EventHubTrigger),
    /// `serviceBusTrigger`, direction in.
    ServiceBusTrigger(ServiceBusTrigger),
    /// Any other type: an extension's binding, its properties as written.
    Extension(ExtensionBinding),
}

macro_rules! into_binding {
    ($($type:ty => $variant:ident),+ $(,)?) => {
        $(impl From<$type> for Binding {
            fn from(binding: $type) -> Self {
                Binding::$variant(binding)
            }
        })+
    };
}

into_binding! {
    HttpTrigger => HttpTrigger,
    HttpOutput => Http,
    QueueTrigger => QueueTrigger,
    QueueOutput => Queue,
    BlobBinding => Blob,
    BlobTrigger => BlobTrigger,
    TimerTrigger => TimerTrigger,
    EventGridTrigger => EventGridTrigger,
    EventHubTrigger => EventHubTrigger,
    ServiceBusTrigger => ServiceBusTrigger,
    ExtensionBinding => Extension,
}

/// The binding types this runtime reads and writes.
const SUPPORTED_TYPES: &str = "httpTrigger, http, queueTrigger, queue, blob, blobTrigger, timerTrigger, eventGridTrigger, eventHubTrigger, serviceBusTrigger";

impl Binding {
    /// The binding's `name`.
    pub fn name(&self) -> &str {
        match self {
            Self::HttpTrigger(b) => &b.name,
            Self::Http(b) => &b.name,
            Self::QueueTrigger(b) => &b.name,
            Self::Queue(b) => &b.name,
            Self::Blob(b) => &b.name,
            Self::BlobTrigger(b) => &b.name,
            Self::TimerTrigger(b) => &b.name,
            Self::EventGridTrigger(b) => &b.name,
            Self::EventHubTrigger(b) => &b.name,
            Self::ServiceBusTrigger(b) => &b.name,
            Self::Extension(b) => &b.name,
        }
    }

    /// The binding's `type` as written in function.json.
    pub fn type_name(&self) -> &str {
        match self {
            Self::HttpTrigger(_) => "httpTrigger",
            Self::Http(_) => "http",
            Self::QueueTrigger(_) => "queueTrigger",
            Self::Queue(_) => "queue",
            Self::Blob(_) => "blob",
            Self::BlobTrigger(_) => "blobTrigger",
            Self::TimerTrigger(_) => "timerTrigger",
            Self::EventGridTrigger(_) => "eventGridTrigger",
            Self::EventHubTrigger(_) => "eventHubTrigger",
            Self::ServiceBusTrigger(_) => "serviceBusTrigger",
            Self::Extension(b) => &b.type_name,
        }
    }

    /// The binding's direction.
    pub fn direction(&self) -> Direction {
        match self {
            Self::Http(_) | Self::Queue(_) => Direction::Out,
            Self::Blob(b) => b.direction,
            Self::Extension(b) => b.direction,
            _ => Direction::In,
        }
    }

    /// The declared `dataType`, for the binding types that have one.
    pub fn data_type(&self) -> Option<DataType> {
        match self {
            Self::QueueTrigger(b) => b.data_type,
            Self::Queue(b) => b.data_type,
            Self::Blob(b) => b.data_type,
            Self::BlobTrigger(b) => b.data_type,
            Self::EventHubTrigger(b) => b.data_type,
            Self::ServiceBusTrigger(b) => b.data_type,
            Self::Extension(b) => b.data_type(),
            _ => None,
        }
    }

    /// The storage or service connection setting the binding names, if it has one.
    pub fn connection(&self) -> Option<&str> {
        match self {
            Self::QueueTrigger(b) => b.connection.as_deref(),
            Self::Queue(b) => b.connection.as_deref(),
            Self::Blob(b) => b.connection.as_deref(),
            Self::BlobTrigger(b) => b.connection.as_deref(),
            Self::EventHubTrigger(b) => b.connection.as_deref(),
            Self::ServiceBusTrigger(b) => b.connection.as_deref(),
            Self::Extension(b) => b.text_property("connection"),
            _ => None,
        }
    }

    /// Whether this binding starts the function: as the host decides it, a type whose name
    /// ends in `trigger` in any case (`BindingMetadata.IsTrigger`,
    /// `src/WebJobs.Script.Abstractions/Description/Binding/BindingMetadata.cs`).
    pub fn is_trigger(&self) -> bool {
        match self {
            Self::Http(_) | Self::Queue(_) | Self::Blob(_) => false,
            Self::Extension(b) => b.type_name.to_ascii_lowercase().ends_with("trigger"),
            _ => true,
        }
    }

    fn to_wire(&self) -> WireBinding {
        let text = |t: &Option<Text>| t.as_ref().map(|t| t.to_string());
        let mut wire = WireBinding {
            kind: self.type_name().to_string(),
            direction: self.direction(),
            name: self.name().to_string(),
            data_type: self.data_type(),
            connection: self.connection().map(str::to_string),
            ..WireBinding::default()
        };
        match self {
            Self::HttpTrigger(b) => {
                wire.auth_level = Some(b.auth_level);
                wire.methods = b.methods.to_vec();
                wire.route = text(&b.route);
            }
            Self::Http(_) | Self::EventGridTrigger(_) | Self::Extension(_) => {}
            Self::QueueTrigger(b) => wire.queue_name = Some(b.queue_name.to_string()),
            Self::Queue(b) => wire.queue_name = Some(b.queue_name.to_string()),
            Self::Blob(b) => wire.path = Some(b.path.to_string()),
            Self::BlobTrigger(b) => {
                wire.path = Some(b.path.to_string());
                wire.source = b.source.map(|s| s.as_str().to_string());
            }
            Self::TimerTrigger(b) => {
                wire.schedule = Some(b.schedule.to_string());
                wire.run_on_startup = b.run_on_startup;
                wire.use_monitor = b.use_monitor;
            }
            Self::EventHubTrigger(b) => {
                wire.event_hub_name = Some(b.event_hub_name.to_string());
                wire.consumer_group = text(&b.consumer_group);
                wire.cardinality = b.cardinality.map(|c| c.as_str().to_string());
            }
            Self::ServiceBusTrigger(b) => {
                wire.queue_name = text(&b.queue_name);
                wire.topic_name = text(&b.topic_name);
                wire.subscription_name = text(&b.subscription_name);
                wire.is_sessions_enabled = b.is_sessions_enabled;
                wire.auto_complete_messages = b.auto_complete_messages;
            }
        }
        wire
    }

    fn from_wire(wire: WireBinding) -> Result<Self, String> {
        let WireBinding {
            kind,
            direction,
            name,
            auth_level,
            methods,
            route,
            queue_name,
            path,
            connection,
            data_type,
            schedule,
            run_on_startup,
            use_monitor,
            source,
            event_hub_name,
            consumer_group,
            cardinality,
            topic_name,
            subscription_name,
            is_sessions_enabled,
            auto_complete_messages,
        } = wire;
        let context = format!("the binding `{name}` of type `{kind}`");
        let expect_direction = |allowed: &[Direction]| {
            if allowed.contains(&direction) {
                Ok(())
            } else {
                Err(format!(
                    "{context} has direction `{direction}`, which that type does not allow"
                ))
            }
        };
        let require = |field: &str, value: Option<String>| {
            value
                .map(Cow::Owned)
                .ok_or_else(|| format!("{context} has no `{field}`"))
        };
        fn parse<T: FromStr<Err = String>>(
            context: &str,
            field: &str,
            value: Option<String>,
        ) -> Result<Option<T>, String> {
            value
                .map(|v| {
                    v.parse()
                        .map_err(|e| format!("{context} field `{field}`: {e}"))
                })
                .transpose()
        }
        let name: Text = Cow::Owned(name);
        let connection = connection.map(Cow::Owned);
        let is_trigger = kind != "http" && kind != "queue" && kind != "blob";
        if is_trigger {
            expect_direction(&[Direction::In])?;
        }
        let binding = match kind.as_str() {
            "httpTrigger" => Self::HttpTrigger(HttpTrigger {
                name,
                auth_level: auth_level.unwrap_or(AuthLevel::Function),
                methods: Cow::Owned(methods),
                route: route.map(Cow::Owned),
            }),
            "http" => {
                expect_direction(&[Direction::Out])?;
                Self::Http(HttpOutput { name })
            }
            "queueTrigger" => Self::QueueTrigger(QueueTrigger {
                name,
                queue_name: require("queueName", queue_name)?,
                connection,
                data_type,
            }),
            "queue" => {
                expect_direction(&[Direction::Out])?;
                Self::Queue(QueueOutput {
                    name,
                    queue_name: require("queueName", queue_name)?,
                    connection,
                    data_type,
                })
            }
            "blob" => Self::Blob(BlobBinding {
                name,
                direction,
                path: require("path", path)?,
                connection,
                data_type,
            }),
            "blobTrigger" => Self::BlobTrigger(BlobTrigger {
                name,
                path: require("path", path)?,
                connection,
                data_type,
                source: parse(&context, "source", source)?,
            }),
            "timerTrigger" => Self::TimerTrigger(TimerTrigger {
                name,
                schedule: require("schedule", schedule)?,
                run_on_startup,
                use_monitor,
            }),
            "eventGridTrigger" => Self::EventGridTrigger(EventGridTrigger { name }),
            "eventHubTrigger" => Self::EventHubTrigger(EventHubTrigger {
                name,
                event_hub_name: require("eventHubName", event_hub_name)?,
                consumer_group: consumer_group.map(Cow::Owned),
                connection,
                cardinality: parse(&context, "cardinality", cardinality)?,
                data_type,
            }),
            "serviceBusTrigger" => {
                if queue_name.is_none() && (topic_name.is_none() || subscription_name.is_none()) {
                    return Err(format!(
                        "{context} needs `queueName`, or `topicName` and `subscriptionName`"
                    ));
                }
                Self::ServiceBusTrigger(ServiceBusTrigger {
                    name,
                    queue_name: queue_name.map(Cow::Owned),
                    topic_name: topic_name.map(Cow::Owned),
                    subscription_name: subscription_name.map(Cow::Owned),
                    connection,
                    is_sessions_enabled,
                    auto_complete_messages,
                    data_type,
                })
            }
            other => {
                return Err(format!(
                    "the binding `{name}` has type `{other}`, which this runtime does not support (supported: {SUPPORTED_TYPES})"
                ));
            }
        };
        Ok(binding)
    }
}

// Declared by `string_enum!`, which derives no Default.
#[allow(clippy::derivable_impls)]
impl Default for Direction {
    fn default() -> Self {
        Self::In
    }
}

/// The union of the fields of every supported binding type, in the order files usually list them.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireBinding {
    #[serde(rename = "type")]
    kind: String,
    direction: Direction,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_level: Option<AuthLevel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    methods: Vec<HttpMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    route: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queue_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subscription_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_hub_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    consumer_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    connection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cardinality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_type: Option<DataType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run_on_startup: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    use_monitor: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_sessions_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auto_complete_messages: Option<bool>,
}

impl Serialize for Binding {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Extension(b) => {
                use serde::ser::SerializeMap;
                let properties = b.property_map();
                let mut map = serializer.serialize_map(Some(3 + properties.len()))?;
                map.serialize_entry("type", &b.type_name)?;
                map.serialize_entry("direction", &b.direction)?;
                map.serialize_entry("name", &b.name)?;
                for (name, value) in &properties {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
            _ => self.to_wire().serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Binding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Read the type first so an unknown type is reported as such, not as a missing field.
        let value = serde_json::Value::deserialize(deserializer)?;
        let kind = value
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or_default();
        let known = SUPPORTED_TYPES.split(", ");
        if let Some(spelling) = known
            .clone()
            .find(|t| t.eq_ignore_ascii_case(kind) && *t != kind)
        {
            let name = value.get("name").and_then(|n| n.as_str()).unwrap_or("?");
            return Err(D::Error::custom(format!(
                "the binding `{name}` has type `{kind}`: write it `{spelling}`"
            )));
        }
        if !kind.is_empty() && !known.clone().any(|t| t == kind) {
            return ExtensionBinding::from_entry(value)
                .map_err(D::Error::custom)
                .map(Self::Extension);
        }
        let wire: WireBinding = serde_json::from_value(value).map_err(D::Error::custom)?;
        Self::from_wire(wire).map_err(D::Error::custom)
    }
}

/// The contents of one `function.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionJson {
    /// The function's trigger and bindings, in file order.
    pub bindings: Vec<Binding>,
}

impl FunctionJson {
    /// The trigger binding, if there is one.
    pub fn trigger(&self) -> Option<&Binding> {
        self.bindings.iter().find(|b| b.is_trigger())
    }

    /// The HTTP trigger, if the function has one.
    pub fn http_trigger(&self) -> Option<&HttpTrigger> {
        self.bindings.iter().find_map(|b| match b {
            Binding::HttpTrigger(t) => Some(t),
            _ => None,
        })
    }

    /// The first `http` output, if the function has one.
    pub fn http_output(&self) -> Option<&HttpOutput> {
        self.bindings.iter().find_map(|b| match b {
            Binding::Http(o) => Some(o),
            _ => None,
        })
    }

    /// See [`is_forwardable`].
    pub fn is_forwardable(&self) -> bool {
        is_forwardable(self)
    }
}

/// Whether the host forwards this function's HTTP requests as-is when
/// `customHandler.enableForwardingHttpRequest` is on: exactly one `httpTrigger` and one `http`
/// output, nothing else. Every other function keeps the JSON protocol.
pub fn is_forwardable(function: &FunctionJson) -> bool {
    let [a, b] = function.bindings.as_slice() else {
        return false;
    };
    matches!(
        (a, b),
        (Binding::HttpTrigger(_), Binding::Http(_)) | (Binding::Http(_), Binding::HttpTrigger(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_documented_function_json_files_parse() {
        let http: FunctionJson = serde_json::from_value(json!({"bindings": [
            {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "function", "methods": ["post"], "route": "predict"},
            {"type": "http", "direction": "out", "name": "res"}]}))
        .unwrap();
        assert!(http.is_forwardable());
        let trigger = http.http_trigger().unwrap();
        assert_eq!(trigger.route.as_deref(), Some("predict"));
        assert_eq!(trigger.methods, vec![HttpMethod::Post]);

        let queue: FunctionJson = serde_json::from_value(json!({"bindings": [
            {"type": "queueTrigger", "direction": "in", "name": "job", "queueName": "predict-jobs", "connection": "AzureWebJobsStorage"},
            {"type": "blob", "direction": "out", "name": "result", "path": "results/{jobId}.json", "connection": "AzureWebJobsStorage"}]}))
        .unwrap();
        assert!(!queue.is_forwardable());
        assert_eq!(queue.trigger().unwrap().name(), "job");
    }

    /// `eventGridTrigger` needs only its name: the extension finds the function by it
    /// (azure-sdk-for-net `Microsoft.Azure.WebJobs.Extensions.EventGrid`,
    /// `EventGridExtensionConfigProvider.cs`, listeners keyed by the function's name).
    #[test]
    fn an_event_grid_trigger_round_trips_and_is_the_trigger() {
        let text = json!({"bindings": [
            {"type": "eventGridTrigger", "direction": "in", "name": "event"},
            {"type": "blob", "direction": "out", "name": "result", "path": "results/x.csv"}]});
        let parsed: FunctionJson = serde_json::from_value(text.clone()).unwrap();
        assert_eq!(parsed.trigger().unwrap().type_name(), "eventGridTrigger");
        assert!(!parsed.is_forwardable());
        assert_eq!(serde_json::to_value(&parsed).unwrap(), text);
        let err = serde_json::from_value::<FunctionJson>(json!({"bindings": [
            {"type": "eventGridTrigger", "direction": "out", "name": "event"}]}))
        .unwrap_err();
        assert!(err.to_string().contains("direction `out`"), "{err}");
    }

    #[test]
    fn a_type_without_a_model_is_an_extension_binding_kept_as_written() {
        let entry = json!({"type": "cosmosDBTrigger", "direction": "in", "name": "docs",
            "connection": "Cosmos", "databaseName": "shop", "containerName": "orders",
            "createLeaseContainerIfNotExists": true, "maxItemsPerInvocation": 100,
            "preferredLocations": ["West Europe"]});
        let binding: Binding = serde_json::from_value(entry.clone()).unwrap();
        assert_eq!(binding.type_name(), "cosmosDBTrigger");
        assert_eq!(binding.connection(), Some("Cosmos"));
        assert!(binding.is_trigger());
        assert_eq!(serde_json::to_value(&binding).unwrap(), entry);

        // The same entry declared in code.
        const DOCS: ExtensionBinding =
            ExtensionBinding::new("cosmosDBTrigger", Direction::In, "docs").properties(&[
                ("connection", Property::Text("Cosmos")),
                ("databaseName", Property::Text("shop")),
                ("containerName", Property::Text("orders")),
                ("createLeaseContainerIfNotExists", Property::Bool(true)),
                ("maxItemsPerInvocation", Property::Number(100)),
            ]);
        let declared = DOCS.property("preferredLocations", json!(["West Europe"]));
        assert_eq!(Binding::Extension(declared), binding);

        let table: Binding = serde_json::from_value(json!({"type": "table", "direction": "out",
            "name": "row", "dataType": "binary"}))
        .unwrap();
        assert!(!table.is_trigger());
        assert_eq!(table.data_type(), Some(DataType::Binary));
        let err =
            serde_json::from_value::<Binding>(json!({"type": "table", "name": "row"})).unwrap_err();
        assert!(err.to_string().contains("has no `direction`"), "{err}");
    }

    #[test]
    fn a_known_type_in_another_case_is_a_sentence_naming_its_spelling() {
        let err = serde_json::from_value::<FunctionJson>(json!({"bindings": [
            {"type": "QueueTrigger", "direction": "in", "name": "job", "queueName": "jobs"}]}))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the binding `job` has type `QueueTrigger`: write it `queueTrigger`"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_required_field_and_a_wrong_direction_are_named() {
        let err = serde_json::from_value::<Binding>(
            json!({"type": "queue", "direction": "out", "name": "msg"}),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the binding `msg` of type `queue` has no `queueName`"
        );
        let err = serde_json::from_value::<Binding>(
            json!({"type": "http", "direction": "in", "name": "res"}),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the binding `res` of type `http` has direction `in`, which that type does not allow"
        );
    }

    #[test]
    fn methods_and_auth_levels_parse_in_any_case() {
        let b: Binding = serde_json::from_value(json!(
            {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "Anonymous", "methods": ["GET", "Post"]}))
        .unwrap();
        let Binding::HttpTrigger(t) = b else {
            panic!("not an http trigger")
        };
        assert_eq!(t.auth_level, AuthLevel::Anonymous);
        assert_eq!(t.methods, vec![HttpMethod::Get, HttpMethod::Post]);
        assert!(t.accepts("get") && !t.accepts("DELETE"));
    }

    #[test]
    fn unknown_fields_are_tolerated() {
        let b: Binding = serde_json::from_value(json!(
            {"type": "http", "direction": "out", "name": "res", "comment": "x"}))
        .unwrap();
        assert_eq!(b.name(), "res");
    }

    #[test]
    fn bindings_round_trip_with_type_first() {
        let b = Binding::Blob(BlobBinding {
            name: "result".into(),
            direction: Direction::In,
            path: "results/{id}.json".into(),
            connection: Some(DEFAULT_CONNECTION.into()),
            data_type: Some(DataType::Binary),
        });
        let text = serde_json::to_string(&b).unwrap();
        assert_eq!(
            text,
            r#"{"type":"blob","direction":"in","name":"result","path":"results/{id}.json","connection":"AzureWebJobsStorage","dataType":"binary"}"#
        );
        assert_eq!(serde_json::from_str::<Binding>(&text).unwrap(), b);
    }

    #[test]
    fn forwardable_means_exactly_http_in_and_http_out() {
        let trigger = Binding::HttpTrigger(HttpTrigger::post("req", "jobs"));
        let out = Binding::Http(HttpOutput::new("res"));
        let queue = Binding::Queue(QueueOutput {
            name: "msg".into(),
            queue_name: "q".into(),
            connection: None,
            data_type: None,
        });
        let f = |b: Vec<Binding>| is_forwardable(&FunctionJson { bindings: b });
        assert!(f(vec![trigger.clone(), out.clone()]));
        assert!(!f(vec![trigger.clone(), out.clone(), queue]));
        assert!(!f(vec![trigger.clone()]));
        assert!(!f(vec![trigger.clone(), trigger]));
    }
}
