//! The parts of `host.json` a custom handler app and a local host act on.
//!
//! Unknown fields are ignored (host.json has many settings nothing here uses); fields that are
//! present must have the right type. Defaults are the host's.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The fields of `host.json` this crate models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostJson {
    /// The schema version; Functions 2.x and later use `"2.0"`.
    #[serde(default = "default_version")]
    pub version: String,
    /// How to start the custom handler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_handler: Option<CustomHandler>,
    /// The extension bundle that provides non-HTTP bindings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_bundle: Option<ExtensionBundle>,
    /// Binding extension settings.
    #[serde(default)]
    pub extensions: Extensions,
    /// The longest one invocation may run; `None` uses the plan's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_timeout: Option<FunctionTimeout>,
}

fn default_version() -> String {
    "2.0".to_string()
}

impl HostJson {
    /// Parses host.json text; the error says what is wrong and where.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Whether the host forwards plain HTTP functions' requests as-is.
    pub fn forwards_http_requests(&self) -> bool {
        self.custom_handler
            .as_ref()
            .is_some_and(|c| c.enable_forwarding_http_request)
    }
}

/// `customHandler`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomHandler {
    /// The process to start.
    pub description: CustomHandlerDescription,
    /// Forward requests of functions with only an HTTP trigger and an HTTP output unchanged.
    #[serde(default)]
    pub enable_forwarding_http_request: bool,
    /// The newer streaming proxy mode; modelled so a local host can refuse it knowingly.
    #[serde(default)]
    pub enable_proxying_http_request: bool,
}

/// `customHandler.description`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomHandlerDescription {
    /// The executable, relative to the app root.
    pub default_executable_path: String,
    /// The working directory, relative to the app root; `None` is the app root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// Arguments; `%NAME%` is replaced by the app setting `NAME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<String>,
}

/// `extensionBundle`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionBundle {
    /// The bundle id, `Microsoft.Azure.Functions.ExtensionBundle`.
    pub id: String,
    /// A version range such as `[4.*, 5.0.0)`.
    pub version: String,
}

/// `extensions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extensions {
    /// `extensions.queues`.
    #[serde(default)]
    pub queues: QueuesOptions,
    /// `extensions.http`.
    #[serde(default)]
    pub http: HttpOptions,
}

/// `extensions.queues`: how the host polls queues and retries messages (app-wide).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuesOptions {
    /// Messages fetched per poll, processed in parallel.
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
    /// Fetch the next batch when this few messages are still in flight; `None` is half the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_batch_threshold: Option<u32>,
    /// The longest wait between polls of an empty queue; `None` is the host's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_polling_interval: Option<TimeSpan>,
    /// How long a failed message stays invisible before its retry.
    #[serde(default)]
    pub visibility_timeout: TimeSpan,
    /// Attempts in all before a message moves to `<queue>-poison`.
    #[serde(default = "default_max_dequeue_count")]
    pub max_dequeue_count: u32,
    /// How message bodies are encoded on the wire.
    #[serde(default)]
    pub message_encoding: MessageEncoding,
}

fn default_batch_size() -> u32 {
    16
}

fn default_max_dequeue_count() -> u32 {
    5
}

impl Default for QueuesOptions {
    fn default() -> Self {
        Self {
            batch_size: default_batch_size(),
            new_batch_threshold: None,
            max_polling_interval: None,
            visibility_timeout: TimeSpan::default(),
            max_dequeue_count: default_max_dequeue_count(),
            message_encoding: MessageEncoding::default(),
        }
    }
}

impl QueuesOptions {
    /// The threshold in effect: the configured one, else half the batch size.
    pub fn effective_new_batch_threshold(&self) -> u32 {
        self.new_batch_threshold.unwrap_or(self.batch_size / 2)
    }

    /// The polling interval in effect: the configured one, else the host's default, which is
    /// shorter when running locally (Core Tools) than in Azure.
    pub fn effective_max_polling_interval(&self, local: bool) -> Duration {
        match &self.max_polling_interval {
            Some(interval) => interval.0,
            None if local => Duration::from_secs(2),
            None => Duration::from_secs(60),
        }
    }
}

/// `extensions.queues.messageEncoding`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageEncoding {
    /// Bodies are base64 on the wire; plain-text messages from other clients fail to decode.
    #[default]
    Base64,
    /// Bodies are the text as-is.
    None,
}

/// `extensions.http`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpOptions {
    /// The path segment before every HTTP route; empty removes it.
    #[serde(default = "default_route_prefix")]
    pub route_prefix: String,
}

fn default_route_prefix() -> String {
    "api".to_string()
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            route_prefix: default_route_prefix(),
        }
    }
}

/// `functionTimeout`: a duration, or `-1` for no limit (dedicated plans only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionTimeout {
    /// `"-1"`.
    Unlimited,
    /// A `hh:mm:ss` duration.
    Limit(TimeSpan),
}

impl Serialize for FunctionTimeout {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Unlimited => serializer.serialize_str("-1"),
            Self::Limit(span) => span.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for FunctionTimeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim() == "-1" {
            return Ok(Self::Unlimited);
        }
        text.parse().map(Self::Limit).map_err(D::Error::custom)
    }
}

/// A .NET `TimeSpan` as host.json writes it: `[d.]hh:mm:ss[.fraction]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeSpan(pub Duration);

impl TimeSpan {
    /// The span as a [`Duration`].
    pub fn as_duration(self) -> Duration {
        self.0
    }
}

impl FromStr for TimeSpan {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("`{text}` is not a time span of the form hh:mm:ss");
        let trimmed = text.trim();
        let (days, clock) = match trimmed.split_once('.') {
            // A dot before the first colon separates days; after it, a fraction of a second.
            Some((d, rest)) if !d.contains(':') => (d.parse::<u64>().map_err(|_| invalid())?, rest),
            _ => (0, trimmed),
        };
        let mut parts = clock.split(':');
        let (Some(h), Some(m), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let hours: u64 = h.parse().map_err(|_| invalid())?;
        let minutes: u64 = m.parse().map_err(|_| invalid())?;
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        let seconds: u64 = whole.parse().map_err(|_| invalid())?;
        if hours > 23 || minutes > 59 || seconds > 59 {
            return Err(invalid());
        }
        let nanos = if fraction.is_empty() {
            0
        } else {
            if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            format!("{fraction:0<9}")
                .parse::<u32>()
                .map_err(|_| invalid())?
        };
        let secs = ((days * 24 + hours) * 60 + minutes) * 60 + seconds;
        Ok(Self(Duration::new(secs, nanos)))
    }
}

impl fmt::Display for TimeSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.as_secs();
        let (days, rest) = (total / 86_400, total % 86_400);
        if days > 0 {
            write!(f, "{days}.")?;
        }
        write!(
            f,
            "{:02}:{:02}:{:02}",
            rest / 3600,
            rest % 3600 / 60,
            rest % 60
        )?;
        let nanos = self.0.subsec_nanos();
        if nanos > 0 {
            let fraction = format!("{nanos:09}");
            write!(f, ".{}", fraction.trim_end_matches('0'))?;
        }
        Ok(())
    }
}

impl Serialize for TimeSpan {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeSpan {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Functions 1.x wrote some intervals as milliseconds; accept those as well.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Millis(u64),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Text(text) => text.parse().map_err(D::Error::custom),
            Raw::Millis(ms) => Ok(Self(Duration::from_millis(ms))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_almost_empty_host_json_gets_the_host_defaults() {
        let host: HostJson = serde_json::from_value(json!({"version": "2.0"})).unwrap();
        assert_eq!(host.extensions.http.route_prefix, "api");
        assert_eq!(host.extensions.queues.batch_size, 16);
        assert_eq!(host.extensions.queues.effective_new_batch_threshold(), 8);
        assert_eq!(host.extensions.queues.max_dequeue_count, 5);
        assert_eq!(
            host.extensions.queues.visibility_timeout,
            TimeSpan::default()
        );
        assert_eq!(
            host.extensions.queues.message_encoding,
            MessageEncoding::Base64
        );
        assert_eq!(
            host.extensions.queues.effective_max_polling_interval(true),
            Duration::from_secs(2)
        );
        assert!(!host.forwards_http_requests());
        assert_eq!(host.function_timeout, None);
    }

    #[test]
    fn a_full_custom_handler_host_json_parses_and_unknown_fields_are_ignored() {
        let host = HostJson::from_json(
            r#"{
              "version": "2.0",
              "logging": {"logLevel": {"default": "Information"}},
              "functionTimeout": "00:10:00",
              "customHandler": {
                "description": {"defaultExecutablePath": "handler", "workingDirectory": "bin", "arguments": ["--x", "%SETTING%"]},
                "enableForwardingHttpRequest": true
              },
              "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"},
              "extensions": {
                "queues": {"batchSize": 4, "newBatchThreshold": 1, "maxPollingInterval": "00:00:02.5",
                           "visibilityTimeout": "00:00:30", "maxDequeueCount": 3, "messageEncoding": "none"},
                "http": {"routePrefix": ""}
              }
            }"#,
        )
        .unwrap();
        let handler = host.custom_handler.as_ref().unwrap();
        assert_eq!(handler.description.default_executable_path, "handler");
        assert_eq!(handler.description.arguments, vec!["--x", "%SETTING%"]);
        assert!(host.forwards_http_requests());
        let queues = &host.extensions.queues;
        assert_eq!(
            queues.visibility_timeout.as_duration(),
            Duration::from_secs(30)
        );
        assert_eq!(
            queues.effective_max_polling_interval(false),
            Duration::from_millis(2500)
        );
        assert_eq!(queues.message_encoding, MessageEncoding::None);
        assert_eq!(host.extensions.http.route_prefix, "");
        assert_eq!(
            host.function_timeout,
            Some(FunctionTimeout::Limit(TimeSpan(Duration::from_secs(600))))
        );
    }

    #[test]
    fn time_spans_parse_days_fractions_and_print_back() {
        for (text, secs, nanos, printed) in [
            ("00:00:30", 30, 0, "00:00:30"),
            ("01:02:03", 3723, 0, "01:02:03"),
            ("1.00:00:01", 86_401, 0, "1.00:00:01"),
            ("00:00:00.100", 0, 100_000_000, "00:00:00.1"),
        ] {
            let span: TimeSpan = text.parse().unwrap();
            assert_eq!(span.0, Duration::new(secs, nanos), "{text}");
            assert_eq!(span.to_string(), printed);
        }
    }

    #[test]
    fn bad_time_spans_are_one_sentence() {
        for bad in ["30", "00:60:00", "a:b:c", "00:00:00:00", "00:00:01.x"] {
            let err = bad.parse::<TimeSpan>().unwrap_err();
            assert_eq!(
                err,
                format!("`{bad}` is not a time span of the form hh:mm:ss")
            );
        }
        let err = serde_json::from_value::<HostJson>(
            json!({"extensions": {"queues": {"visibilityTimeout": "soon"}}}),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("`soon` is not a time span"),
            "{err}"
        );
    }

    #[test]
    fn function_timeout_minus_one_means_unlimited() {
        let host: HostJson = serde_json::from_value(json!({"functionTimeout": "-1"})).unwrap();
        assert_eq!(host.function_timeout, Some(FunctionTimeout::Unlimited));
        assert_eq!(
            serde_json::to_value(host.function_timeout).unwrap(),
            json!("-1")
        );
    }

    #[test]
    fn wrong_types_in_known_fields_are_errors() {
        let err = serde_json::from_value::<HostJson>(
            json!({"customHandler": {"description": {"defaultExecutablePath": 3}}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }
}
