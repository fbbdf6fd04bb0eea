//! App settings: `local.settings.json` `Values`, overlaid by the process environment (as Core
//! Tools does: the environment wins) and by settings given in code (tests).

use crate::error::LoadError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The app settings the host and the handler see, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    values: BTreeMap<String, String>,
    /// `Host.LocalHttpPort` from local.settings.json, if set.
    pub local_http_port: Option<u16>,
}

impl Settings {
    /// Settings holding exactly `values`.
    pub fn from_values(values: BTreeMap<String, String>) -> Self {
        Self {
            values,
            local_http_port: None,
        }
    }

    /// Reads `local.settings.json` at `path`; the error names the file and the field at fault.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadError::new(path, format!("cannot be read ({e})")))?;
        Self::parse(path, &text)
    }

    /// Parses local.settings.json text; `path` only names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, LoadError> {
        let root: Value = serde_json::from_str(text)
            .map_err(|e| LoadError::new(path, format!("is not valid JSON ({e})")))?;
        let Value::Object(root) = root else {
            return Err(LoadError::new(path, "must hold a JSON object"));
        };
        match root.get("IsEncrypted") {
            None | Some(Value::Bool(false)) | Some(Value::Null) => {}
            Some(Value::Bool(true)) => {
                return Err(LoadError::new(
                    path,
                    "has `IsEncrypted: true`; run `func settings decrypt` or write the values in plain text",
                ));
            }
            Some(_) => {
                return Err(LoadError::new(path, "`IsEncrypted` must be true or false"));
            }
        }
        let mut values = BTreeMap::new();
        match root.get("Values") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, value) in map {
                    let Value::String(text) = value else {
                        return Err(LoadError::new(
                            path,
                            format!("`Values.{name}` must be a string (app settings are strings)"),
                        ));
                    };
                    values.insert(name.clone(), text.clone());
                }
            }
            Some(_) => {
                return Err(LoadError::new(
                    path,
                    "`Values` must be an object of strings",
                ));
            }
        }
        let local_http_port = match root.get("Host").and_then(|h| h.get("LocalHttpPort")) {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or_else(|| {
                        LoadError::new(path, "`Host.LocalHttpPort` must be a port number")
                    })?,
            ),
        };
        Ok(Self {
            values,
            local_http_port,
        })
    }

    /// Overlays `other`: its values win.
    pub fn overlay(&mut self, other: impl IntoIterator<Item = (String, String)>) {
        self.values.extend(other);
    }

    /// The value of setting `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Setting `name` as a number within `range`; `None` when it is not set, and `Err` with
    /// one sentence (`name must be {what}`) when it is not such a number.
    pub fn number(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<f64>,
        what: &str,
    ) -> Result<Option<f64>, String> {
        self.get(name)
            .map(|text| {
                text.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| format!("{name} must be {what}, not `{text}`"))
            })
            .transpose()
    }

    /// Every setting, by name.
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// Replaces every `%NAME%` in `text` with setting `NAME` (the host's app-setting
    /// expressions); `%%` is a literal percent sign. An unknown name is an error naming it.
    pub fn expand(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('%') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('%') else {
                return Err(format!("`{text}` has a `%` without a closing `%`"));
            };
            let name = &after[..end];
            if name.is_empty() {
                out.push('%');
            } else {
                let value = self.get(name).ok_or_else(|| {
                    format!("`{text}` uses the app setting `{name}`, which is not set")
                })?;
                out.push_str(value);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        Settings::parse(Path::new("local.settings.json"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn values_and_the_local_port_are_read() {
        let s = parse(
            r#"{"IsEncrypted": false, "Values": {"A": "1"}, "Host": {"LocalHttpPort": 7072}}"#,
        )
        .unwrap();
        assert_eq!(s.get("A"), Some("1"));
        assert_eq!(s.local_http_port, Some(7072));
    }

    #[test]
    fn a_non_string_value_is_named() {
        let err = parse(r#"{"Values": {"PORT": 1}}"#).unwrap_err();
        assert_eq!(
            err,
            "local.settings.json: `Values.PORT` must be a string (app settings are strings)"
        );
    }

    #[test]
    fn encrypted_settings_are_refused() {
        let err = parse(r#"{"IsEncrypted": true, "Values": {}}"#).unwrap_err();
        assert!(err.contains("IsEncrypted: true"), "{err}");
    }

    #[test]
    fn overlay_wins() {
        let mut s = parse(r#"{"Values": {"A": "file"}}"#).unwrap();
        s.overlay([("A".to_string(), "env".to_string())]);
        assert_eq!(s.get("A"), Some("env"));
    }

    #[test]
    fn percent_expressions_expand_and_unknown_names_are_errors() {
        let s = Settings::from_values(BTreeMap::from([("Q".into(), "jobs".into())]));
        assert_eq!(s.expand("%Q%-poison").unwrap(), "jobs-poison");
        assert_eq!(s.expand("100%%").unwrap(), "100%");
        assert_eq!(s.expand("plain").unwrap(), "plain");
        assert!(s.expand("%MISSING%").unwrap_err().contains("`MISSING`"));
        assert!(s.expand("50%").is_err());
    }
}
