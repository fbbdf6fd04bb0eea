//! The `function.json` model: bindings as typed values, shared by the handler (which writes the
//! files) and a local host (which reads them).
//!
//! Only the binding types this runtime knows are accepted; any other type is an error whose
//! sentence names it, so a typo in a hand-written file fails loudly instead of being ignored.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
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

/// An `httpTrigger` binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTrigger {
    /// The binding name: the key of the request in `Data`.
    pub name: String,
    /// Which key callers need.
    pub auth_level: AuthLevel,
    /// Accepted methods; empty accepts every method.
    pub methods: Vec<HttpMethod>,
    /// The route template after the route prefix (`jobs/{id}`); `None` uses the function name.
    pub route: Option<String>,
}

impl HttpTrigger {
    /// A trigger on `route` for `methods`, requiring a function key; name it with
    /// [`crate::Function::http_trigger`].
    pub fn new(methods: impl IntoIterator<Item = HttpMethod>, route: impl Into<String>) -> Self {
        Self {
            name: String::new(),
            auth_level: AuthLevel::Function,
            methods: methods.into_iter().collect(),
            route: Some(route.into()),
        }
    }

    /// A trigger for `GET route`.
    pub fn get(route: impl Into<String>) -> Self {
        Self::new([HttpMethod::Get], route)
    }

    /// A trigger for `POST route`.
    pub fn post(route: impl Into<String>) -> Self {
        Self::new([HttpMethod::Post], route)
    }

    /// Sets the authorization level.
    pub fn auth(mut self, level: AuthLevel) -> Self {
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

/// An `http` output binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOutput {
    /// The binding name: the key of the response in `Outputs` (`$return` for `ReturnValue`).
    pub name: String,
}

/// A `queueTrigger` binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTrigger {
    /// The binding name: the key of the message in `Data`.
    pub name: String,
    /// The queue to listen on.
    pub queue_name: String,
    /// The app setting holding the storage connection.
    pub connection: Option<String>,
    /// How the message is handed over: text (none or `string`) or base64 (`binary`).
    pub data_type: Option<DataType>,
}

/// A `queue` output binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOutput {
    /// The binding name: the key of the message(s) in `Outputs`.
    pub name: String,
    /// The queue to add messages to.
    pub queue_name: String,
    /// The app setting holding the storage connection.
    pub connection: Option<String>,
    /// `binary` stops the host from decoding base64 strings into bytes (see the protocol docs).
    pub data_type: Option<DataType>,
}

/// A `blob` input or output binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The binding name.
    pub name: String,
    /// In, out or both.
    pub direction: Direction,
    /// `container/blob` path; may use binding expressions such as `results/{jobId}.json`.
    pub path: String,
    /// The app setting holding the storage connection.
    pub connection: Option<String>,
    /// How the content is handed over.
    pub data_type: Option<DataType>,
}

/// A `timerTrigger` binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerTrigger {
    /// The binding name.
    pub name: String,
    /// A six-field NCRONTAB expression, seconds first.
    pub schedule: String,
    /// Whether to fire once when the host starts.
    pub run_on_startup: Option<bool>,
}

/// An `eventGridTrigger` binding: one Event Grid event per invocation, as a JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGridTrigger {
    /// The binding name.
    pub name: String,
}

/// One entry of `function.json`'s `bindings`, tagged by its `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    Blob(Blob),
    /// `timerTrigger`, direction in.
    TimerTrigger(TimerTrigger),
    /// `eventGridTrigger`, direction in.
    EventGridTrigger(EventGridTrigger),
}

/// The binding types this runtime reads and writes.
const SUPPORTED_TYPES: &str =
    "httpTrigger, http, queueTrigger, queue, blob, timerTrigger, eventGridTrigger";

impl Binding {
    /// The binding's `name`.
    pub fn name(&self) -> &str {
        match self {
            Self::HttpTrigger(b) => &b.name,
            Self::Http(b) => &b.name,
            Self::QueueTrigger(b) => &b.name,
            Self::Queue(b) => &b.name,
            Self::Blob(b) => &b.name,
            Self::TimerTrigger(b) => &b.name,
            Self::EventGridTrigger(b) => &b.name,
        }
    }

    /// The binding's `type` as written in function.json.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::HttpTrigger(_) => "httpTrigger",
            Self::Http(_) => "http",
            Self::QueueTrigger(_) => "queueTrigger",
            Self::Queue(_) => "queue",
            Self::Blob(_) => "blob",
            Self::TimerTrigger(_) => "timerTrigger",
            Self::EventGridTrigger(_) => "eventGridTrigger",
        }
    }

    /// The binding's direction.
    pub fn direction(&self) -> Direction {
        match self {
            Self::HttpTrigger(_)
            | Self::QueueTrigger(_)
            | Self::TimerTrigger(_)
            | Self::EventGridTrigger(_) => Direction::In,
            Self::Http(_) | Self::Queue(_) => Direction::Out,
            Self::Blob(b) => b.direction,
        }
    }

    /// The declared `dataType`, for the binding types that have one.
    pub fn data_type(&self) -> Option<DataType> {
        match self {
            Self::QueueTrigger(b) => b.data_type,
            Self::Queue(b) => b.data_type,
            Self::Blob(b) => b.data_type,
            _ => None,
        }
    }

    /// Whether this binding starts the function.
    pub fn is_trigger(&self) -> bool {
        matches!(
            self,
            Self::HttpTrigger(_)
                | Self::QueueTrigger(_)
                | Self::TimerTrigger(_)
                | Self::EventGridTrigger(_)
        )
    }

    fn to_wire(&self) -> WireBinding {
        let mut wire = WireBinding {
            kind: self.type_name().to_string(),
            direction: self.direction(),
            name: self.name().to_string(),
            auth_level: None,
            methods: Vec::new(),
            route: None,
            queue_name: None,
            path: None,
            connection: None,
            data_type: None,
            schedule: None,
            run_on_startup: None,
        };
        match self {
            Self::HttpTrigger(b) => {
                wire.auth_level = Some(b.auth_level);
                wire.methods = b.methods.clone();
                wire.route = b.route.clone();
            }
            Self::Http(_) => {}
            Self::QueueTrigger(b) => {
                wire.queue_name = Some(b.queue_name.clone());
                wire.connection = b.connection.clone();
                wire.data_type = b.data_type;
            }
            Self::Queue(b) => {
                wire.queue_name = Some(b.queue_name.clone());
                wire.connection = b.connection.clone();
                wire.data_type = b.data_type;
            }
            Self::Blob(b) => {
                wire.path = Some(b.path.clone());
                wire.connection = b.connection.clone();
                wire.data_type = b.data_type;
            }
            Self::TimerTrigger(b) => {
                wire.schedule = Some(b.schedule.clone());
                wire.run_on_startup = b.run_on_startup;
            }
            Self::EventGridTrigger(_) => {}
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
            value.ok_or_else(|| format!("{context} has no `{field}`"))
        };
        let binding = match kind.as_str() {
            "httpTrigger" => {
                expect_direction(&[Direction::In])?;
                Self::HttpTrigger(HttpTrigger {
                    name,
                    auth_level: auth_level.unwrap_or(AuthLevel::Function),
                    methods,
                    route,
                })
            }
            "http" => {
                expect_direction(&[Direction::Out])?;
                Self::Http(HttpOutput { name })
            }
            "queueTrigger" => {
                expect_direction(&[Direction::In])?;
                Self::QueueTrigger(QueueTrigger {
                    name,
                    queue_name: require("queueName", queue_name)?,
                    connection,
                    data_type,
                })
            }
            "queue" => {
                expect_direction(&[Direction::Out])?;
                Self::Queue(QueueOutput {
                    name,
                    queue_name: require("queueName", queue_name)?,
                    connection,
                    data_type,
                })
            }
            "blob" => Self::Blob(Blob {
                name,
                direction,
                path: require("path", path)?,
                connection,
                data_type,
            }),
            "timerTrigger" => {
                expect_direction(&[Direction::In])?;
                Self::TimerTrigger(TimerTrigger {
                    name,
                    schedule: require("schedule", schedule)?,
                    run_on_startup,
                })
            }
            "eventGridTrigger" => {
                expect_direction(&[Direction::In])?;
                Self::EventGridTrigger(EventGridTrigger { name })
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

/// The union of the fields of every supported binding type, in the order files usually list them.
#[derive(Debug, Serialize, Deserialize)]
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
    path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    connection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_type: Option<DataType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run_on_startup: Option<bool>,
}

impl Serialize for Binding {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_wire().serialize(serializer)
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
        if !kind.is_empty() && !SUPPORTED_TYPES.split(", ").any(|t| t == kind) {
            let name = value.get("name").and_then(|n| n.as_str()).unwrap_or("?");
            return Err(D::Error::custom(format!(
                "the binding `{name}` has type `{kind}`, which this runtime does not support (supported: {SUPPORTED_TYPES})"
            )));
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
    fn an_unknown_binding_type_is_a_sentence_naming_it() {
        let err = serde_json::from_value::<FunctionJson>(json!({"bindings": [
            {"type": "eventHub", "direction": "out", "name": "hub"}]}))
        .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "the binding `hub` has type `eventHub`, which this runtime does not support"
            ),
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
        let b = Binding::Blob(Blob {
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
        let trigger = Binding::HttpTrigger(HttpTrigger::post("jobs"));
        let out = Binding::Http(HttpOutput { name: "res".into() });
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
