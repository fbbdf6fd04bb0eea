//! HTTP trigger route templates (`jobs/{id}`), matched the way the host's ASP.NET routing does
//! for the forms functions use: literal segments (case-insensitive), `{name}`, `{name:constraint}`,
//! an optional last `{name?}` and a catch-all last `{*name}`.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param {
        name: String,
        constraint: Option<String>,
        optional: bool,
    },
    CatchAll(String),
}

/// A parsed route template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteTemplate {
    segments: Vec<Segment>,
}

impl RouteTemplate {
    /// Parses `template`; complex segments such as `{name}.json` are refused with a sentence.
    pub(crate) fn parse(template: &str) -> Result<Self, String> {
        let trimmed = template.trim_matches('/');
        let mut segments = Vec::new();
        let parts: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        let last = parts.len().saturating_sub(1);
        for (i, part) in parts.iter().enumerate() {
            let segment = if let Some(inner) =
                part.strip_prefix('{').and_then(|p| p.strip_suffix('}'))
            {
                if inner.contains(['{', '}']) || inner.is_empty() {
                    return Err(format!(
                        "the route `{template}` has an invalid segment `{part}`"
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
                    let (name, constraint) = match inner.split_once(':') {
                        Some((name, constraint)) => (name, Some(constraint.to_ascii_lowercase())),
                        None => (inner, None),
                    };
                    Segment::Param {
                        name: name.to_string(),
                        constraint,
                        optional,
                    }
                }
            } else if part.contains(['{', '}']) {
                return Err(format!(
                    "the route `{template}` has the segment `{part}`, which mixes text and parameters; this runtime supports whole-segment parameters only"
                ));
            } else if part.is_empty() {
                return Err(format!("the route `{template}` has an empty segment"));
            } else {
                Segment::Literal(part.to_string())
            };
            segments.push(segment);
        }
        Ok(Self { segments })
    }

    /// The route parameters when `path` (after the route prefix, no query) matches.
    pub(crate) fn matches(&self, path: &str) -> Option<BTreeMap<String, String>> {
        let trimmed = path.trim_matches('/');
        let parts: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        let mut params = BTreeMap::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(text) => {
                    if !parts.get(i)?.eq_ignore_ascii_case(text) {
                        return None;
                    }
                }
                Segment::Param {
                    name,
                    constraint,
                    optional,
                } => match parts.get(i) {
                    Some(value) => {
                        if !satisfies(value, constraint.as_deref()) {
                            return None;
                        }
                        params.insert(name.clone(), (*value).to_string());
                    }
                    None if *optional => {}
                    None => return None,
                },
                Segment::CatchAll(name) => {
                    params.insert(name.clone(), parts.get(i..).unwrap_or_default().join("/"));
                    return Some(params);
                }
            }
        }
        (parts.len() <= self.segments.len()).then_some(params)
    }
}

/// Checks the constraints functions commonly use; others (regex, length) are not checked.
fn satisfies(value: &str, constraint: Option<&str>) -> bool {
    match constraint {
        None => true,
        Some("int") => value.parse::<i32>().is_ok(),
        Some("long") => value.parse::<i64>().is_ok(),
        Some("bool") => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
        Some("alpha") => value.chars().all(|c| c.is_ascii_alphabetic()),
        Some("guid") => uuid::Uuid::parse_str(value).is_ok(),
        Some(_) => true,
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
    fn literals_match_ignoring_case_and_parameters_are_captured() {
        assert_eq!(params("predict", "Predict"), Some(vec![]));
        assert_eq!(params("predict", "predict/x"), None);
        assert_eq!(
            params("jobs/{id}", "jobs/abc-1"),
            Some(vec![("id".into(), "abc-1".into())])
        );
        assert_eq!(params("jobs/{id}", "jobs"), None);
        assert_eq!(params("jobs/{id}", "other/abc"), None);
    }

    #[test]
    fn optional_catch_all_and_constraints() {
        assert_eq!(params("items/{id?}", "items"), Some(vec![]));
        assert_eq!(
            params("files/{*rest}", "files/a/b.txt"),
            Some(vec![("rest".into(), "a/b.txt".into())])
        );
        assert_eq!(params("n/{id:int}", "n/12").map(|p| p.len()), Some(1));
        assert_eq!(params("n/{id:int}", "n/x"), None);
        assert!(params("g/{id:guid}", "g/52d5e7b4-3b9c-4f0e-8a51-9e6d7f2f1a10").is_some());
    }

    #[test]
    fn unsupported_templates_are_refused_with_a_sentence() {
        let err = RouteTemplate::parse("results/{id}.json").unwrap_err();
        assert!(err.contains("mixes text and parameters"), "{err}");
        assert!(RouteTemplate::parse("a/{id?}/b").is_err());
        assert!(RouteTemplate::parse("a//b").is_err());
        assert!(RouteTemplate::parse("a/{}").is_err());
    }
}
