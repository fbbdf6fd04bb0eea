//! Binding data and binding expressions (`results/{jobId}.json`), and the host's conversions of
//! values on the way in (Metadata, blob inputs) and out (output bindings).
//!
//! The conversions follow the host source (`ScriptInvocationContextExtensions` and
//! `HttpScriptInvocationResultExtensions` in Azure/azure-functions-host):
//! - in: strings and numbers are JSON-serialized a second time (`hello` → `"\"hello\""`,
//!   `1` → `"1"`), objects stay objects, bytes become base64;
//! - out: unless the binding says `"dataType": "binary"`, a STRING output that parses as base64
//!   (.NET `Convert.FromBase64String`) is bound as the decoded bytes; anything else as is.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

/// `yyyy-MM-ddTHH:mm:ss+00:00`: how Json.NET writes the host's `DateTimeOffset` values.
const OFFSET_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");
/// `yyyy-MM-ddTHH-mm-ssZ`: the host's default format for `{DateTime}` in paths (UTC).
const PATH_DATETIME_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]-[minute]-[second]Z");
/// `yyyy-MM-ddTHH:mm:ss.fffffffZ`: how Json.NET writes a UTC `DateTime` (`sys.UtcNow`).
const UTC_NOW_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7]Z");

/// Formats a time the way the host writes `DateTimeOffset` metadata.
pub fn format_offset(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(OFFSET_FORMAT)
        .unwrap_or_default()
}

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    /// What goes into `Metadata`.
    metadata: Value,
    /// What binding expressions see; `None` hides the entry from expressions.
    expression: Option<Value>,
}

/// The binding data of one invocation: what `Metadata` holds and what `{name}` expressions
/// resolve against. Keys compare ignoring ASCII case, as in the host.
#[derive(Debug, Clone)]
pub struct BindingData {
    entries: Vec<Entry>,
    method_name: String,
    utc_now: OffsetDateTime,
    rand_guid: String,
}

impl BindingData {
    /// Empty binding data for an invocation of `function_name` starting now.
    pub fn new(function_name: &str) -> Self {
        Self {
            entries: Vec::new(),
            method_name: function_name.to_string(),
            utc_now: OffsetDateTime::now_utc(),
            rand_guid: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Adds `key` with a plain value; Metadata gets the host's encoding of it.
    pub fn add(&mut self, key: &str, value: Value) {
        let metadata = host_encode(&value);
        self.add_raw(key, metadata, Some(value));
    }

    /// Adds `key` with an explicit Metadata value and expression value.
    pub fn add_raw(&mut self, key: &str, metadata: Value, expression: Option<Value>) {
        self.entries.retain(|e| !e.key.eq_ignore_ascii_case(key));
        self.entries.push(Entry {
            key: key.to_string(),
            metadata,
            expression,
        });
    }

    /// Adds each property of `text` when it is a JSON object (a queue message or HTTP body).
    pub fn add_json_properties(&mut self, text: &str) {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
            for (key, value) in map {
                if !value.is_null() {
                    self.add(&key, value);
                }
            }
        }
    }

    /// The `sys` object: `{MethodName, UtcNow, RandGuid}`.
    pub fn sys(&self) -> Value {
        json!({
            "MethodName": self.method_name,
            "UtcNow": self.utc_now.format(UTC_NOW_FORMAT).unwrap_or_default(),
            "RandGuid": self.rand_guid,
        })
    }

    /// The `Metadata` object for the invocation request.
    pub fn metadata(&self) -> Map<String, Value> {
        let mut map = Map::new();
        for entry in &self.entries {
            map.insert(entry.key.clone(), entry.metadata.clone());
        }
        map.insert("sys".to_string(), self.sys());
        map
    }

    /// Fills every `{expression}` in `template`. Errors read like the host's
    /// ("No value for named parameter 'jobId'.").
    pub fn resolve(&self, template: &str) -> Result<String, String> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                return Err(format!(
                    "the binding expression `{template}` has an unclosed `{{`"
                ));
            };
            out.push_str(&self.lookup(after[..end].trim())?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn lookup(&self, name: &str) -> Result<String, String> {
        let missing = || format!("No value for named parameter '{name}'.");
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            // Aliases of sys.RandGuid / sys.UtcNow, so one invocation sees one GUID.
            "rand-guid" | "sys.randguid" => return Ok(self.rand_guid.clone()),
            "datetime" => {
                return Ok(self
                    .utc_now
                    .format(PATH_DATETIME_FORMAT)
                    .unwrap_or_default());
            }
            "sys.utcnow" => {
                return Ok(self
                    .utc_now
                    .format(PATH_DATETIME_FORMAT)
                    .unwrap_or_default());
            }
            "sys.methodname" => return Ok(self.method_name.clone()),
            _ => {}
        }
        let mut parts = name.split('.');
        let first = parts.next().unwrap_or_default();
        let mut value = self
            .entries
            .iter()
            .find(|e| e.key.eq_ignore_ascii_case(first))
            .and_then(|e| e.expression.as_ref())
            .ok_or_else(missing)?;
        for part in parts {
            value = value
                .as_object()
                .and_then(|m| {
                    m.get(part).or_else(|| {
                        m.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(part))
                            .map(|(_, v)| v)
                    })
                })
                .ok_or_else(missing)?;
        }
        // The host converts strings and integers only (BindingDataPathHelper).
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
            _ => Err(missing()),
        }
    }
}

/// The host's encoding of a binding-data value into `Metadata`/`Data`: objects as objects,
/// everything else JSON-serialized into a string (so strings gain a second layer of quotes).
pub fn host_encode(value: &Value) -> Value {
    match value {
        Value::Object(_) => value.clone(),
        other => Value::String(other.to_string()),
    }
}

/// A blob input's `Data` value: `null` when missing, the double-encoded text for
/// `"dataType": "string"`, else the bytes as base64.
pub fn blob_input_value(bytes: Option<Vec<u8>>, as_text: bool) -> Value {
    match bytes {
        None => Value::Null,
        Some(bytes) if as_text => {
            Value::String(Value::String(String::from_utf8_lossy(&bytes).into_owned()).to_string())
        }
        Some(bytes) => Value::String(STANDARD.encode(bytes)),
    }
}

/// .NET `Convert.FromBase64String`: whitespace ignored, padding required, length a multiple
/// of four; the empty string is zero bytes.
pub fn dotnet_base64(text: &str) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n'))
        .collect();
    if !cleaned.len().is_multiple_of(4) {
        return None;
    }
    LENIENT.decode(cleaned).ok()
}

/// One value bound to an output: bytes or text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputValue {
    /// Bytes (a string output that parsed as base64).
    Bytes(Vec<u8>),
    /// Text.
    Text(String),
}

impl OutputValue {
    /// The value as bytes (text as UTF-8).
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Bytes(b) => b,
            Self::Text(t) => t.into_bytes(),
        }
    }
}

/// Converts one non-HTTP output value as the host does; `None` for `null` (nothing is bound).
pub fn output_value(value: &Value, binary: bool) -> Option<OutputValue> {
    match value {
        Value::Null => None,
        Value::String(s) if !binary => Some(match dotnet_base64(s) {
            Some(bytes) => OutputValue::Bytes(bytes),
            None => OutputValue::Text(s.clone()),
        }),
        Value::String(s) => Some(OutputValue::Text(s.clone())),
        other => Some(OutputValue::Text(other.to_string())),
    }
}

/// The messages a queue output value stands for: an array is one message per item (items
/// bound as they are), anything else one message converted like any output.
pub fn queue_messages(value: &Value, binary: bool) -> Vec<OutputValue> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter(|v| !v.is_null())
            .map(|item| match item {
                Value::String(s) => OutputValue::Text(s.clone()),
                other => OutputValue::Text(other.to_string()),
            })
            .collect(),
        other => output_value(other, binary).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_resolve_properties_metadata_and_system_values() {
        let mut data = BindingData::new("process");
        data.add_json_properties(r#"{"jobId": "a1", "n": 3, "nested": {"Part": "x"}, "f": 1.5}"#);
        data.add("Id", json!("52d5"));
        assert_eq!(
            data.resolve("results/{jobId}.json").unwrap(),
            "results/a1.json"
        );
        assert_eq!(data.resolve("{JOBID}-{n}-{id}").unwrap(), "a1-3-52d5");
        assert_eq!(data.resolve("{nested.part}").unwrap(), "x");
        let guid = data.resolve("{rand-guid}").unwrap();
        assert_eq!(data.resolve("{sys.randguid}").unwrap(), guid);
        assert!(uuid::Uuid::try_parse(&guid).is_ok());
        let stamp = data.resolve("{DateTime}").unwrap();
        assert_eq!(stamp.len(), "2024-01-02T03-04-05Z".len(), "{stamp}");
        assert!(stamp.ends_with('Z') && !stamp.contains(':'));
        assert_eq!(
            data.resolve("{missing}").unwrap_err(),
            "No value for named parameter 'missing'."
        );
        // Like the host, only strings and integers convert.
        assert!(data.resolve("{f}").is_err());
        assert!(data.resolve("{nested}").is_err());
    }

    #[test]
    fn metadata_double_encodes_scalars_and_adds_sys() {
        let mut data = BindingData::new("f");
        data.add("Id", json!("abc"));
        data.add("DequeueCount", json!(1));
        data.add("Query", json!({"a": "b"}));
        let metadata = data.metadata();
        assert_eq!(metadata["Id"], json!("\"abc\""));
        assert_eq!(metadata["DequeueCount"], json!("1"));
        assert_eq!(metadata["Query"], json!({"a": "b"}));
        assert_eq!(metadata["sys"]["MethodName"], json!("f"));
        assert!(metadata["sys"]["UtcNow"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn later_keys_replace_earlier_ones_ignoring_case() {
        let mut data = BindingData::new("f");
        data.add("id", json!("body"));
        data.add("Id", json!("route"));
        assert_eq!(data.resolve("{ID}").unwrap(), "route");
        assert_eq!(data.metadata().len(), 2);
    }

    #[test]
    fn base64_follows_dotnet_rules() {
        assert_eq!(dotnet_base64("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(dotnet_base64("aGVs bG8="), Some(b"hello".to_vec()));
        assert_eq!(dotnet_base64(""), Some(Vec::new()));
        assert_eq!(dotnet_base64("abcd"), Some(vec![0x69, 0xb7, 0x1d]));
        assert_eq!(dotnet_base64("hello"), None);
        assert_eq!(dotnet_base64("{\"a\":1}"), None);
        assert_eq!(dotnet_base64("aGVsbG8"), None);
    }

    #[test]
    fn outputs_follow_the_host_quirk_unless_binary() {
        assert_eq!(
            output_value(&json!("aGVsbG8="), false),
            Some(OutputValue::Bytes(b"hello".to_vec()))
        );
        assert_eq!(
            output_value(&json!("aGVsbG8="), true),
            Some(OutputValue::Text("aGVsbG8=".into()))
        );
        assert_eq!(
            output_value(&json!("hello world"), false),
            Some(OutputValue::Text("hello world".into()))
        );
        assert_eq!(
            output_value(&json!({"a": 1}), false),
            Some(OutputValue::Text("{\"a\":1}".into()))
        );
        assert_eq!(output_value(&Value::Null, false), None);
    }

    #[test]
    fn queue_arrays_are_one_message_per_item() {
        let messages = queue_messages(&json!(["one", {"n": 2}, null]), false);
        assert_eq!(
            messages,
            vec![
                OutputValue::Text("one".into()),
                OutputValue::Text("{\"n\":2}".into())
            ]
        );
        assert_eq!(queue_messages(&json!("single message"), false).len(), 1);
    }

    #[test]
    fn blob_inputs_are_base64_text_or_null() {
        assert_eq!(blob_input_value(None, false), Value::Null);
        assert_eq!(blob_input_value(Some(b"hi".to_vec()), false), json!("aGk="));
        assert_eq!(
            blob_input_value(Some(b"hi".to_vec()), true),
            json!("\"hi\"")
        );
    }
}
