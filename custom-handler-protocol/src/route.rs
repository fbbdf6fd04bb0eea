//! HTTP trigger route templates (`items/{id:int}/{kind?}`), matched the way the host's ASP.NET
//! routing does for the forms functions use: case-insensitive literals, whole-segment
//! parameters with constraints, an optional last parameter and a catch-all `{*rest}`.

use percent_encoding::percent_decode_str;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Constraint {
    Int,
    Long,
    Bool,
    Guid,
    Alpha,
    Number,
    DateTime,
    MinLength(usize),
    MaxLength(usize),
    Length(usize),
    Min(i64),
    Max(i64),
    Range(i64, i64),
}

impl Constraint {
    fn parse(text: &str) -> Result<Self, String> {
        let lower = text.to_ascii_lowercase();
        let (name, arg) = match lower.split_once('(') {
            Some((name, rest)) => (name, rest.strip_suffix(')').map(str::trim)),
            None => (lower.as_str(), None),
        };
        let number = |a: Option<&str>| -> Option<i64> { a?.parse().ok() };
        let size = |a: Option<&str>| -> Option<usize> { a?.parse().ok() };
        let parsed = match (name, arg) {
            ("int", None) => Some(Self::Int),
            ("long", None) => Some(Self::Long),
            ("bool", None) => Some(Self::Bool),
            ("guid", None) => Some(Self::Guid),
            ("alpha", None) => Some(Self::Alpha),
            ("double" | "float" | "decimal", None) => Some(Self::Number),
            ("datetime", None) => Some(Self::DateTime),
            ("minlength", a) => size(a).map(Self::MinLength),
            ("maxlength", a) => size(a).map(Self::MaxLength),
            ("length", a) => size(a).map(Self::Length),
            ("min", a) => number(a).map(Self::Min),
            ("max", a) => number(a).map(Self::Max),
            ("range", Some(a)) => a.split_once(',').and_then(|(lo, hi)| {
                Some(Self::Range(
                    lo.trim().parse().ok()?,
                    hi.trim().parse().ok()?,
                ))
            }),
            _ => None,
        };
        parsed.ok_or_else(|| format!("the route constraint `{text}` is not supported"))
    }

    fn accepts(&self, value: &str) -> bool {
        match self {
            Self::Int => value.parse::<i32>().is_ok(),
            Self::Long => value.parse::<i64>().is_ok(),
            Self::Bool => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
            Self::Guid => uuid::Uuid::try_parse(value).is_ok(),
            Self::Alpha => !value.is_empty() && value.chars().all(|c| c.is_ascii_alphabetic()),
            Self::Number => value.parse::<f64>().is_ok_and(f64::is_finite),
            // ASP.NET accepts many date spellings; anything non-empty is close enough here.
            Self::DateTime => !value.is_empty(),
            Self::MinLength(n) => value.chars().count() >= *n,
            Self::MaxLength(n) => value.chars().count() <= *n,
            Self::Length(n) => value.chars().count() == *n,
            Self::Min(n) => value.parse::<i64>().is_ok_and(|v| v >= *n),
            Self::Max(n) => value.parse::<i64>().is_ok_and(|v| v <= *n),
            Self::Range(lo, hi) => value.parse::<i64>().is_ok_and(|v| (*lo..=*hi).contains(&v)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param {
        name: String,
        constraints: Vec<Constraint>,
        optional: bool,
    },
    CatchAll(String),
}

impl Segment {
    /// Lower ranks win when two templates match the same path (literals before parameters).
    fn rank(&self) -> u8 {
        match self {
            Self::Literal(_) => 0,
            Self::Param {
                constraints,
                optional: false,
                ..
            } if !constraints.is_empty() => 1,
            Self::Param {
                optional: false, ..
            } => 2,
            Self::Param { .. } => 3,
            Self::CatchAll(_) => 4,
        }
    }
}

/// A parsed route template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTemplate {
    text: String,
    segments: Vec<Segment>,
}

impl RouteTemplate {
    /// Parses `template`; the error is a sentence naming the part that is not supported.
    pub fn parse(template: &str) -> Result<Self, String> {
        let trimmed = template.trim().trim_matches('/');
        let parts: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        let last = parts.len().saturating_sub(1);
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = if let Some(inner) =
                part.strip_prefix('{').and_then(|p| p.strip_suffix('}'))
            {
                if inner.is_empty() || inner.contains(['{', '}', '=']) {
                    return Err(format!(
                        "the route `{template}` has an unsupported segment `{part}`"
                    ));
                }
                if let Some(name) = inner.strip_prefix('*') {
                    if i != last {
                        return Err(format!(
                            "the route `{template}` has a catch-all `{part}` that is not the last segment"
                        ));
                    }
                    Segment::CatchAll(name.trim_start_matches('*').to_string())
                } else {
                    let (inner, optional) = match inner.strip_suffix('?') {
                        Some(rest) => (rest, true),
                        None => (inner, false),
                    };
                    if optional && i != last {
                        return Err(format!(
                            "the route `{template}` has an optional `{part}` that is not the last segment"
                        ));
                    }
                    let mut pieces = inner.split(':');
                    let name = pieces.next().unwrap_or_default().to_string();
                    let constraints = pieces
                        .map(Constraint::parse)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| format!("in the route `{template}`, {e}"))?;
                    Segment::Param {
                        name,
                        constraints,
                        optional,
                    }
                }
            } else if part.contains(['{', '}']) {
                return Err(format!(
                    "the route `{template}` has the segment `{part}`, which mixes text and parameters; only whole-segment parameters are supported"
                ));
            } else if part.is_empty() {
                return Err(format!("the route `{template}` has an empty segment"));
            } else {
                Segment::Literal(part.to_string())
            };
            segments.push(segment);
        }
        Ok(Self {
            text: trimmed.to_string(),
            segments,
        })
    }

    /// The template as written, without surrounding slashes.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The precedence key: compare two templates' keys, lower first.
    pub fn precedence(&self) -> Vec<u8> {
        self.segments.iter().map(Segment::rank).collect()
    }

    /// Matches `path` (after the route prefix, still percent-encoded); returns the decoded
    /// route parameters.
    pub fn matches(&self, path: &str) -> Option<BTreeMap<String, String>> {
        self.matches_with(path, |s| {
            percent_decode_str(s).decode_utf8_lossy().into_owned()
        })
    }

    /// Matches a path that is decoded already, as ASP.NET routing sees Kestrel's normalised
    /// path: values are taken as they stand, so `..%2Fx` stays `..%2Fx`.
    pub fn matches_decoded(&self, path: &str) -> Option<BTreeMap<String, String>> {
        self.matches_with(path, str::to_owned)
    }

    fn matches_with(
        &self,
        path: &str,
        decode: impl Fn(&str) -> String,
    ) -> Option<BTreeMap<String, String>> {
        let trimmed = path.trim_matches('/');
        let parts: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        let mut params = BTreeMap::new();
        let mut i = 0;
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => {
                    let part = parts.get(i)?;
                    if !decode(part).eq_ignore_ascii_case(text) {
                        return None;
                    }
                }
                Segment::Param {
                    name,
                    constraints,
                    optional,
                } => match parts.get(i) {
                    Some(part) => {
                        let value = decode(part);
                        if !constraints.iter().all(|c| c.accepts(&value)) {
                            return None;
                        }
                        params.insert(name.clone(), value);
                    }
                    None if *optional => {}
                    None => return None,
                },
                Segment::CatchAll(name) => {
                    let rest = parts.get(i..).unwrap_or_default().join("/");
                    if !rest.is_empty() {
                        params.insert(name.clone(), decode(&rest));
                    }
                    return Some(params);
                }
            }
            i += 1;
        }
        (i >= parts.len()).then_some(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(template: &str, path: &str) -> Option<Vec<(String, String)>> {
        RouteTemplate::parse(template)
            .unwrap()
            .matches(path)
            .map(|p| p.into_iter().collect())
    }

    #[test]
    fn literals_match_ignoring_case_and_params_are_decoded() {
        assert_eq!(
            params("items/{id}", "Items/a%20b"),
            Some(vec![("id".into(), "a b".into())])
        );
        assert_eq!(params("items/{id}", "items"), None);
        assert_eq!(params("items/{id}", "items/1/2"), None);
        assert_eq!(params("predict", "predict/"), Some(vec![]));
    }

    #[test]
    fn a_decoded_path_keeps_its_values_as_they_stand() {
        let template = RouteTemplate::parse("jobs/{id}").unwrap();
        let id = |path| {
            template
                .matches_decoded(path)
                .and_then(|p| p.get("id").cloned())
        };
        assert_eq!(id("jobs/..%2Fx").as_deref(), Some("..%2Fx"));
        assert_eq!(id("jobs/a b").as_deref(), Some("a b"));
        assert_eq!(id("jobs/a/b"), None);
    }

    #[test]
    fn optional_and_catch_all_parameters() {
        assert_eq!(params("items/{id?}", "items"), Some(vec![]));
        assert_eq!(
            params("items/{id?}", "items/3"),
            Some(vec![("id".into(), "3".into())])
        );
        assert_eq!(
            params("files/{*path}", "files/a/b.txt"),
            Some(vec![("path".into(), "a/b.txt".into())])
        );
    }

    #[test]
    fn constraints_filter_matches() {
        assert!(params("jobs/{id:int}", "jobs/12").is_some());
        assert!(params("jobs/{id:int}", "jobs/x").is_none());
        assert!(
            params(
                "jobs/{id:guid}",
                "jobs/52d5f5a4-5b8d-4f0b-9bd0-2f52b1a8f0e1"
            )
            .is_some()
        );
        assert!(params("jobs/{id:guid}", "jobs/nope").is_none());
        assert!(params("jobs/{id:int:range(1,5)}", "jobs/6").is_none());
        assert!(params("jobs/{name:alpha:maxlength(3)}", "jobs/abc").is_some());
    }

    #[test]
    fn unsupported_templates_are_sentences() {
        assert!(
            RouteTemplate::parse("a/{x}.json")
                .unwrap_err()
                .contains("mixes text")
        );
        assert!(
            RouteTemplate::parse("a/{x:regex(a)}")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(
            RouteTemplate::parse("{x?}/a")
                .unwrap_err()
                .contains("optional")
        );
    }

    #[test]
    fn literals_take_precedence_over_parameters() {
        let literal = RouteTemplate::parse("items/new").unwrap();
        let param = RouteTemplate::parse("items/{id}").unwrap();
        assert!(literal.precedence() < param.precedence());
    }
}
