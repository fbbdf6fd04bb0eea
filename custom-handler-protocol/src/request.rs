//! The invocation request body and typed, tolerant accessors for its bindings and metadata.

use super::{DecodeError, HttpRequest, as_object, get_ci, scalar_text, type_name};
use crate::function_json::DataType;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body the host POSTs to `/{FunctionName}`: trigger and input values, and binding metadata.
///
/// `Data` is required; a missing or `null` `Metadata` is read as empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct InvocationRequest {
    /// One entry per trigger or input binding, keyed by the binding's `name`.
    #[serde(rename = "Data")]
    pub data: Map<String, Value>,
    /// Trigger metadata (`DequeueCount`, `Id`, ...) and `sys`.
    #[serde(rename = "Metadata")]
    pub metadata: Map<String, Value>,
    /// The exact bodies of HTTP triggers the host forwarded as they came
    /// (`enableForwardingHttpRequest`), by trigger name: what
    /// the trigger's body then is. Never serialized; empty for the JSON protocol.
    #[serde(skip)]
    pub forwarded_bodies: std::collections::BTreeMap<String, bytes::Bytes>,
}

impl InvocationRequest {
    /// Parses an invocation body, with one-sentence errors for each way it can be malformed.
    pub fn from_slice(body: &[u8]) -> Result<Self, DecodeError> {
        // The quick reader takes what it can (the same value); the rest, errors included,
        // goes through serde_json.
        let value = match super::envelope::parse(body) {
            Some(value) => value,
            None => serde_json::from_slice(body).map_err(|e| {
                DecodeError::new(format!("the invocation body is not valid JSON ({e})"))
            })?,
        };
        Self::try_from(value)
    }

    /// The raw value of binding `name`; `null` counts as absent.
    pub fn binding(&self, name: &str) -> Option<&Value> {
        self.data.get(name).filter(|v| !v.is_null())
    }

    fn required(&self, name: &str, what: &str) -> Result<&Value, DecodeError> {
        self.binding(name).ok_or_else(|| {
            DecodeError::new(format!(
                "the invocation has no {what} named `{name}` in Data"
            ))
        })
    }

    /// The HTTP trigger named `name`, its body decoded (a forwarded body as it came).
    pub fn http_trigger(&self, name: &str) -> Result<HttpRequest, DecodeError> {
        let mut request = HttpRequest::from_binding(name, self.required(name, "HTTP trigger")?)?;
        if let Some(raw) = self.forwarded_bodies.get(name) {
            request.body = raw.clone();
        }
        Ok(request)
    }

    /// [`InvocationRequest::http_trigger`], with the body moved out of this request instead of
    /// copied: a 10,000-row batch is almost a megabyte. The result is the same; afterwards
    /// this request no longer holds the body.
    pub fn take_http_trigger(&mut self, name: &str) -> Result<HttpRequest, DecodeError> {
        let text = match self.data.get_mut(name) {
            Some(Value::Object(map)) => take_text_body(map),
            _ => None,
        };
        let raw = self.forwarded_bodies.remove(name);
        let put_back =
            |this: &mut Self, text: Option<(String, String)>, raw: Option<bytes::Bytes>| {
                if let (Some(text), Some(Value::Object(map))) = (text, this.data.get_mut(name)) {
                    map.insert(text.0, Value::String(text.1));
                }
                if let Some(raw) = raw {
                    this.forwarded_bodies.insert(name.to_owned(), raw);
                }
            };
        let mut request = match self
            .required(name, "HTTP trigger")
            .and_then(|value| HttpRequest::from_binding(name, value))
        {
            Ok(request) => request,
            Err(e) => {
                put_back(self, text, raw);
                return Err(e);
            }
        };
        match (raw, text) {
            (Some(raw), _) => request.body = raw,
            (None, Some((key, text))) => {
                if crate::http::is_binary_content_type(request.content_type()) {
                    match request.decode_body(text.clone()) {
                        Ok(body) => request.body = body,
                        Err(e) => {
                            put_back(self, Some((key, text)), None);
                            return Err(e);
                        }
                    }
                } else {
                    // Text needs no decoding: the string becomes the body without a copy.
                    request.body = bytes::Bytes::from(text);
                }
            }
            (None, None) => {}
        }
        Ok(request)
    }

    /// The value of input `name` (a trigger or input binding) as bytes, decoded by the
    /// binding's declared `dataType`; `None` when the host sent nothing for it.
    ///
    /// The host converts every input with `GetHttpScriptInvocationContextValue`
    /// (`src/WebJobs.Script/Workers/MessageExtensions/ScriptInvocationContextExtensions.cs`,
    /// azure-functions-host v4.1037.0):
    /// - `binary`: the bytes as base64;
    /// - text (`string`, or no `dataType`): the text JSON-serialized once more, so `abc`
    ///   arrives as the string `"\"abc\""`;
    /// - an absent value (a blob that does not exist): the 4-character string `null`.
    ///
    /// The declaration decides, never the content: text that happens to be valid base64 stays
    /// text. A value whose shape contradicts the declaration is a [`DecodeError`].
    pub fn input_bytes(
        &self,
        name: &str,
        data_type: Option<DataType>,
    ) -> Result<Option<Vec<u8>>, DecodeError> {
        let Some(value) = self.present(name) else {
            return Ok(None);
        };
        match data_type {
            Some(DataType::Binary) => match value {
                Value::String(s) => STANDARD.decode(s.trim()).map(Some).map_err(|e| {
                    DecodeError::new(format!(
                        "the input `{name}` is declared binary, so the host sends base64, but it is not valid base64 ({e})"
                    ))
                }),
                other => Err(DecodeError::new(format!(
                    "the input `{name}` is declared binary, so the host sends a base64 string, but it is {}",
                    type_name(other)
                ))),
            },
            _ => Ok(Some(text_value(name, value)?.into_bytes())),
        }
    }

    /// The value of input `name` as text, decoded by its declared `dataType` (see
    /// [`InvocationRequest::input_bytes`]); bytes that are not UTF-8 are an error.
    pub fn input_text(
        &self,
        name: &str,
        data_type: Option<DataType>,
    ) -> Result<Option<String>, DecodeError> {
        match self.input_bytes(name, data_type)? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|e| {
                DecodeError::new(format!("the input `{name}` is not UTF-8 text ({e})"))
            }),
        }
    }

    /// The value of `name` unless the host sent nothing: no key, JSON `null`, or the string
    /// `null` (how the host serialises a null value).
    fn present(&self, name: &str) -> Option<&Value> {
        self.binding(name)
            .filter(|v| !matches!(v, Value::String(s) if s == "null"))
    }

    /// The timer trigger named `name`.
    pub fn timer(&self, name: &str) -> Result<TimerInfo, DecodeError> {
        let value = self.required(name, "timer trigger")?;
        let Some(map) = as_object(value) else {
            return Err(DecodeError::new(format!(
                "the timer trigger `{name}` is {} where an object was expected",
                type_name(value)
            )));
        };
        serde_json::from_value(Value::Object(map.into_owned())).map_err(|e| {
            DecodeError::new(format!(
                "the timer trigger `{name}` does not have the expected shape ({e})"
            ))
        })
    }

    /// The `sys` metadata the host adds to every invocation.
    pub fn sys(&self) -> Sys {
        let sys = get_ci(&self.metadata, "sys").and_then(as_object);
        let text = |key: &str| {
            sys.as_ref()
                .and_then(|m| get_ci(m, key))
                .and_then(scalar_text)
        };
        Sys {
            method_name: text("MethodName"),
            utc_now: text("UtcNow"),
            rand_guid: text("RandGuid"),
        }
    }
}

impl TryFrom<Value> for InvocationRequest {
    type Error = DecodeError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        let Value::Object(mut body) = value else {
            return Err(DecodeError::new(format!(
                "the invocation body is {} where an object with Data and Metadata was expected",
                type_name(&value)
            )));
        };
        let data = match body.remove("Data") {
            Some(Value::Object(data)) => data,
            Some(other) => {
                return Err(DecodeError::new(format!(
                    "the invocation body's Data is {} where an object was expected",
                    type_name(&other)
                )));
            }
            None => {
                return Err(DecodeError::new("the invocation body has no Data object"));
            }
        };
        let metadata = match body.remove("Metadata") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(metadata)) => metadata,
            Some(other) => {
                return Err(DecodeError::new(format!(
                    "the invocation body's Metadata is {} where an object was expected",
                    type_name(&other)
                )));
            }
        };
        Ok(Self {
            data,
            metadata,
            forwarded_bodies: Default::default(),
        })
    }
}

/// A text input as the host sends it: a string holding a JSON string literal (the text
/// serialised once more). An object or array is what the host sends for a value it bound as
/// JSON (`JObject.FromObject`), and stands for its JSON text.
fn text_value(name: &str, value: &Value) -> Result<String, DecodeError> {
    match value {
        Value::String(s) => serde_json::from_str::<String>(s).map_err(|_| {
            DecodeError::new(format!(
                "the input `{name}` is declared as text, which the host sends as a JSON string literal, but it arrived as the bare string {}",
                excerpt(s)
            ))
        }),
        Value::Object(_) | Value::Array(_) => Ok(value.to_string()),
        other => Err(DecodeError::new(format!(
            "the input `{name}` is declared as text, so the host sends a string, but it is {}",
            type_name(other)
        ))),
    }
}

/// At most 60 characters of `text`, quoted, for error sentences.
fn excerpt(text: &str) -> String {
    let mut short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

/// The `sys` metadata: which trigger ran, when, and a GUID for binding expressions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Sys {
    /// The function's method name as the host knows it.
    pub method_name: Option<String>,
    /// The invocation time, as the host formats it.
    pub utc_now: Option<String>,
    /// A GUID the host generated for this invocation.
    pub rand_guid: Option<String>,
}

/// A timer trigger value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimerInfo {
    /// The schedule's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<TimerSchedule>,
    /// When the timer last fired and will next fire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_status: Option<ScheduleStatus>,
    /// Whether this invocation is later than scheduled (for example after downtime).
    #[serde(default)]
    pub is_past_due: bool,
}

/// The `Schedule` part of a timer trigger value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerSchedule {
    /// Whether the schedule follows daylight saving time changes.
    #[serde(rename = "AdjustForDST", default)]
    pub adjust_for_dst: bool,
}

/// The `ScheduleStatus` part of a timer trigger value; times as the host formats them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleStatus {
    /// The previous occurrence.
    #[serde(default)]
    pub last: Option<String>,
    /// The next occurrence.
    #[serde(default)]
    pub next: Option<String>,
    /// When the status was last written.
    #[serde(default)]
    pub last_updated: Option<String>,
}

/// Removes the string body `HttpRequest::from_binding` would read (the key `Body` or else the
/// first in any case, as `get_ci` chooses), with its key; a body of another type stays.
fn take_text_body(map: &mut Map<String, Value>) -> Option<(String, String)> {
    let key = if map.contains_key("Body") {
        "Body".to_owned()
    } else {
        map.keys().find(|k| k.eq_ignore_ascii_case("Body"))?.clone()
    };
    if !matches!(map.get(&key), Some(Value::String(_))) {
        return None;
    }
    match map.remove(&key) {
        Some(Value::String(text)) => Some((key, text)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn taking_the_http_trigger_gives_what_reading_it_gives_and_moves_the_body() {
        let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/requests/");
        for fixture in [
            "http_trigger_with_body.json",
            "http_trigger_without_body.json",
            "http_trigger_octet_stream.json",
        ] {
            let text = std::fs::read_to_string(format!("{shared}{fixture}")).unwrap();
            let value: Value = serde_json::from_str(&text).unwrap();
            let mut request = InvocationRequest::try_from(value).unwrap();
            let name = request.data.keys().next().unwrap().clone();
            let read = request.http_trigger(&name).unwrap();
            let taken = request.take_http_trigger(&name).unwrap();
            assert_eq!(read, taken, "{fixture}");
            if !read.body.is_empty() {
                assert!(
                    request.http_trigger(&name).unwrap().body.is_empty(),
                    "{fixture}"
                );
            }
        }
        // Any case, the exact key first, as reading chooses; a non-string body is left as is.
        for (data, expected) in [
            (
                json!({"Url": "u", "Method": "POST", "body": "a"}),
                Some("a"),
            ),
            (
                json!({"Url": "u", "Method": "POST", "Body": "b", "body": "a"}),
                Some("b"),
            ),
            (
                json!({"Url": "u", "Method": "POST", "Body": {"x": 1}}),
                Some(r#"{"x":1}"#),
            ),
            (json!({"Url": "u", "Method": "POST"}), None),
        ] {
            let mut request = request(json!({"Data": {"req": data}}));
            let read = request.http_trigger("req").unwrap();
            let taken = request.take_http_trigger("req").unwrap();
            assert_eq!(taken.body, expected.unwrap_or_default().as_bytes());
            assert_eq!(read, taken);
        }
        // A trigger that cannot be decoded keeps its body.
        let mut request = request(json!({"Data": {"req": {"Method": "POST", "Body": "a"}}}));
        assert!(request.take_http_trigger("req").is_err());
        assert_eq!(request.data["req"]["Body"], "a");
    }

    fn request(body: Value) -> InvocationRequest {
        InvocationRequest::try_from(body).unwrap()
    }

    #[test]
    fn missing_data_is_an_error_and_missing_metadata_is_empty() {
        let err = InvocationRequest::from_slice(br#"{"Metadata": {}}"#).unwrap_err();
        assert_eq!(err.message(), "the invocation body has no Data object");
        let req = InvocationRequest::from_slice(br#"{"Data": {}}"#).unwrap();
        assert!(req.metadata.is_empty());
        let req = InvocationRequest::from_slice(br#"{"Data": {}, "Metadata": null}"#).unwrap();
        assert!(req.metadata.is_empty());
    }

    #[test]
    fn wrong_envelope_types_are_named() {
        for (body, expected) in [
            (&b"[]"[..], "the invocation body is an array"),
            (br#"{"Data": 1}"#, "the invocation body's Data is a number"),
            (
                br#"{"Data": {}, "Metadata": "x"}"#,
                "the invocation body's Metadata is a string",
            ),
            (b"not json", "the invocation body is not valid JSON"),
        ] {
            let err = InvocationRequest::from_slice(body).unwrap_err();
            assert!(err.message().starts_with(expected), "{err}");
        }
    }

    // Shapes from `GetHttpScriptInvocationContextValue` in
    // azure-functions-host v4.1037.0 src/WebJobs.Script/Workers/MessageExtensions/ScriptInvocationContextExtensions.cs.
    #[test]
    fn text_inputs_are_unquoted_once_and_never_base64_decoded() {
        let req = request(json!({"Data": {
            "double": "\"hello\"",
            "looks_base64": "\"aGVsbG8=\"",
            "json_text": "\"{\\\"jobId\\\":\\\"a\\\"}\"",
            "json_object": {"jobId": "a"},
            "literal_null_text": "\"null\""
        }}));
        let text = |n| req.input_text(n, None).unwrap().unwrap();
        assert_eq!(text("double"), "hello");
        assert_eq!(text("looks_base64"), "aGVsbG8=");
        assert_eq!(text("json_text"), "{\"jobId\":\"a\"}");
        assert_eq!(text("json_object"), "{\"jobId\":\"a\"}");
        assert_eq!(text("literal_null_text"), "null");
        assert_eq!(
            req.input_text("double", Some(DataType::String))
                .unwrap()
                .as_deref(),
            Some("hello")
        );
    }

    #[test]
    fn binary_inputs_are_base64_and_nothing_else() {
        let req = request(json!({"Data": {"bytes": "aGVsbG8=", "text": "\"hi\"", "n": 3}}));
        let bytes = req.input_bytes("bytes", Some(DataType::Binary)).unwrap();
        assert_eq!(bytes.as_deref(), Some(&b"hello"[..]));
        let err = req.input_bytes("text", Some(DataType::Binary)).unwrap_err();
        assert!(err.message().starts_with("the input `text` is declared binary, so the host sends base64, but it is not valid base64"), "{err}");
        let err = req.input_bytes("n", Some(DataType::Binary)).unwrap_err();
        assert!(err.message().ends_with("but it is a number"), "{err}");
    }

    #[test]
    fn the_string_null_is_absent_whatever_the_type() {
        let req = request(json!({"Data": {"missing_blob": "null", "json_null": null}}));
        for data_type in [None, Some(DataType::String), Some(DataType::Binary)] {
            assert_eq!(req.input_bytes("missing_blob", data_type).unwrap(), None);
            assert_eq!(req.input_bytes("json_null", data_type).unwrap(), None);
            assert_eq!(req.input_bytes("no_such_key", data_type).unwrap(), None);
        }
    }

    #[test]
    fn a_text_input_that_is_not_double_encoded_is_an_error_not_a_guess() {
        let req = request(json!({"Data": {"bare": "aGVsbG8=", "n": 7}}));
        let err = req.input_text("bare", None).unwrap_err();
        assert!(err.message().contains("declared as text"), "{err}");
        assert!(err.message().contains("\"aGVsbG8=\""), "{err}");
        let err = req.input_text("n", None).unwrap_err();
        assert!(err.message().ends_with("but it is a number"), "{err}");
    }

    #[test]
    fn unreadable_metadata_fields_are_none_not_errors() {
        let req = request(json!({"Data": {}, "Metadata": {"DequeueCount": "many", "Id": [1]}}));
        assert_eq!(req.sys(), Sys::default());
    }

    #[test]
    fn a_timer_that_is_not_an_object_is_an_error() {
        let req = request(json!({"Data": {"t": 3}}));
        let err = req.timer("t").unwrap_err();
        assert_eq!(
            err.message(),
            "the timer trigger `t` is a number where an object was expected"
        );
    }
}
