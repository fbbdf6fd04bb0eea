//! The invocation response body: outputs, log lines and the return value.

use super::{DecodeError, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// What a function hands back to the host: `{"Outputs": {...}, "Logs": [...], "ReturnValue": ...}`.
///
/// The host binds `Outputs.<name>` to the output binding `name`, writes each `Logs` line to its
/// log at Information level, and binds `ReturnValue` to a binding named `$return`.
/// Outputs only take effect when the handler answers the host with a 2xx status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvocationResponse {
    /// One value per output binding, keyed by the binding's `name`.
    #[serde(rename = "Outputs", default, deserialize_with = "null_as_default")]
    pub outputs: Map<String, Value>,
    /// Lines for the host's invocation log.
    #[serde(rename = "Logs", default, deserialize_with = "null_as_default")]
    pub logs: Vec<String>,
    /// The value for a `$return` binding; `null` when there is none.
    #[serde(rename = "ReturnValue", default)]
    pub return_value: Value,
}

impl InvocationResponse {
    /// A response with no outputs, logs or return value.
    pub fn new() -> Self {
        Self::default()
    }

    /// A response whose only output is the `http` output `name`.
    pub fn http(name: impl Into<String>, response: HttpResponse) -> Self {
        Self::new().output(name, response)
    }

    /// Sets output binding `name` to `value`.
    ///
    /// Strings that parse as base64 are bound as bytes by the host (see the module docs); a queue
    /// output takes a string (one message) or an array of strings (one message each).
    pub fn output(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.outputs.insert(name.into(), value.into());
        self
    }

    /// Appends a line to `Logs`.
    pub fn log(mut self, line: impl Into<String>) -> Self {
        self.logs.push(line.into());
        self
    }

    /// Sets the value for a `$return` binding.
    pub fn return_value(mut self, value: impl Into<Value>) -> Self {
        self.return_value = value.into();
        self
    }

    /// The `http` output bound to `name` (`$return` reads `ReturnValue`), if the function set it.
    pub fn http_output(&self, name: &str) -> Option<Result<HttpResponse, DecodeError>> {
        let value = if name == "$return" {
            Some(&self.return_value).filter(|v| !v.is_null())
        } else {
            self.outputs.get(name).filter(|v| !v.is_null())
        }?;
        Some(HttpResponse::from_output(value))
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_with_the_host_s_pascal_case_keys() {
        let res = InvocationResponse::new()
            .output("msg", "hello")
            .log("queued")
            .return_value(json!({"a": 1}));
        assert_eq!(
            serde_json::to_value(&res).unwrap(),
            json!({"Outputs": {"msg": "hello"}, "Logs": ["queued"], "ReturnValue": {"a": 1}})
        );
    }

    #[test]
    fn deserializes_null_outputs_and_logs_as_empty() {
        let res: InvocationResponse =
            serde_json::from_str(r#"{"Outputs": null, "Logs": null, "ReturnValue": null}"#)
                .unwrap();
        assert_eq!(res, InvocationResponse::default());
        let res: InvocationResponse = serde_json::from_str("{}").unwrap();
        assert_eq!(res, InvocationResponse::default());
    }

    #[test]
    fn http_output_reads_named_outputs_and_return_value() {
        let res = InvocationResponse::http("res", HttpResponse::new(202).text("ok"));
        assert_eq!(res.http_output("res").unwrap().unwrap().status, 202);
        assert!(res.http_output("other").is_none());
        let res = InvocationResponse::new().return_value(json!({"statusCode": "204"}));
        assert_eq!(res.http_output("$return").unwrap().unwrap().status, 204);
    }
}
