//! Binding data and binding expressions (`results/{jobId}.json`). The host's conversions of
//! values on the way in and out are the protocol crate's (`functions_custom_handler_protocol::host`).
//!
//! Each rule follows azure-functions-host v4.1037.0 (paths under `src/WebJobs.Script/`) or the
//! storage and HTTP extensions, as named on the function that implements it. The conformance
//! corpus (`conformance/` at the repo root) pins them; the runtime's tests read the same files.

use functions_custom_handler_protocol::host::{dotnet_string, host_encode, json_properties};
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
    /// Left out of `Metadata`.
    hidden: bool,
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

    /// Adds `key` with an explicit Metadata value and expression value. A key already there
    /// (ignoring case) gets the new value and keeps its first spelling and place, as a .NET
    /// `Dictionary` with `OrdinalIgnoreCase` does when the indexer sets it.
    pub fn add_raw(&mut self, key: &str, metadata: Value, expression: Option<Value>) {
        match self
            .entries
            .iter_mut()
            .find(|e| e.key.eq_ignore_ascii_case(key))
        {
            Some(entry) => {
                entry.metadata = metadata;
                entry.expression = expression;
                entry.hidden = false;
            }
            None => self.entries.push(Entry {
                key: key.to_string(),
                metadata,
                expression,
                hidden: false,
            }),
        }
    }

    /// Adds `key` for binding expressions only: a value `Metadata` does not carry (the host
    /// leaves out keys ending in `Trigger` and null values; ScriptInvocationContextExtensions.cs).
    pub fn add_hidden(&mut self, key: &str, expression: Value) {
        self.add_raw(key, Value::Null, Some(expression));
        if let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.key.eq_ignore_ascii_case(key))
        {
            entry.hidden = true;
        }
    }

    /// Adds the top-level properties of `text` when it is a JSON object (a queue message or
    /// an HTTP body): `functions_custom_handler_protocol::host::json_properties`.
    pub fn add_json_properties(&mut self, text: &str) {
        for (key, value) in json_properties(text) {
            self.add(&key, value);
        }
    }

    /// Whether `key` is there already (compared ignoring case).
    pub fn contains(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.key.eq_ignore_ascii_case(key))
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
        for entry in self.entries.iter().filter(|e| !e.hidden) {
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
        // azure-webjobs-sdk `Bindings/Path/BindingTemplateToken.cs` (`GetProperty`): members of
        // an object matched ignoring case; anything else has no members.
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
                .ok_or_else(|| {
                    format!("Error while accessing '{part}': property doesn't exist.")
                })?;
        }
        // `BindingDataPathHelper.ConvertParameterValueToString` (azure-webjobs-sdk
        // `Bindings/BindingDataPathHelper.cs`): strings, integers and JSON scalars as text;
        // an object, an array, a null or a `DateTimeOffset` converts to null, which the
        // template writes as nothing.
        Ok(match value {
            Value::Object(_) | Value::Array(_) | Value::Null => String::new(),
            other => dotnet_string(other),
        })
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
        // JSON properties arrive as .NET strings (Utility.ApplyBindingData), so a float
        // resolves; an object converts to nothing (BindingDataPathHelper).
        assert_eq!(data.resolve("{f}").unwrap(), "1.5");
        assert_eq!(data.resolve("[{nested}]").unwrap(), "[]");
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
    fn later_keys_replace_earlier_ones_ignoring_case_keeping_the_first_spelling() {
        let mut data = BindingData::new("f");
        data.add("id", json!("body"));
        data.add("Id", json!("route"));
        assert_eq!(data.resolve("{ID}").unwrap(), "route");
        let metadata = data.metadata();
        assert_eq!(metadata.len(), 2);
        assert_eq!(metadata["id"], json!("\"route\""));
    }

    #[test]
    fn hidden_keys_resolve_but_stay_out_of_metadata_until_replaced() {
        let mut data = BindingData::new("f");
        data.add_hidden("QueueTrigger", json!("text"));
        data.add_hidden("Id", Value::Null);
        assert_eq!(data.resolve("{queuetrigger}/[{id}]").unwrap(), "text/[]");
        assert_eq!(data.metadata().len(), 1);
        data.add("id", json!("order-42"));
        assert_eq!(data.metadata()["Id"], json!("\"order-42\""));
    }

    #[test]
    fn json_properties_become_dotnet_strings_and_arrays_are_left_out() {
        let mut data = BindingData::new("f");
        data.add_json_properties(
            r#"{"n": 3, "b": true, "s": "x", "o": {"k": 1}, "a": [1], "z": null}"#,
        );
        let metadata = data.metadata();
        assert_eq!(metadata["n"], json!("\"3\""));
        assert_eq!(metadata["b"], json!("\"True\""));
        assert_eq!(metadata["s"], json!("\"x\""));
        assert_eq!(metadata["o"], json!({"k": 1}));
        assert!(metadata.get("a").is_none() && metadata.get("z").is_none());
        assert_eq!(data.resolve("{n}-{s}").unwrap(), "3-x");
    }
}
