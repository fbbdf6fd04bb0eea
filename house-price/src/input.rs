//! Parsing request bodies into validated rows, once, at the edge.
//!
//! Accepted shapes (all produce rows in a well-defined order):
//! - pandas column-oriented JSON, `{"CHAS":{"0":0,"1":1},"RM":{...},...}`: rows ordered by
//!   the numeric value of their keys, which must be the same in every column;
//! - a records array, `[{"CHAS":0,"RM":6.575,...}, ...]`, in array order;
//! - a single record, `{"CHAS":0,"RM":6.575,...}`;
//! - CSV with a header row naming the six features in any order.
//!
//! Every error names the row and the column at fault. Nothing is coerced: a string is not
//! a number, an unknown column is an error (a typo must not silently drop a feature).

use std::collections::HashSet;
use std::fmt::{self, Write as _};

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::features::{FEATURES, N_FEATURES, Row, ValueProblem, check_value, feature_index};

mod fast;
mod fast_csv;
mod text;

pub use text::TextReader;

/// Where a row came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowRef {
    /// A pandas row key, as given.
    Key(String),
    /// A position in a records array (0-based, like the array).
    Index(usize),
    /// The single record of a one-object body.
    Single,
    /// A line of a CSV body (1-based, counting the header).
    Line(u64),
}

impl fmt::Display for RowRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowRef::Key(k) => write!(f, "row \"{k}\""),
            RowRef::Index(i) => write!(f, "row {i}"),
            RowRef::Single => f.write_str("the row"),
            RowRef::Line(l) => write!(f, "line {l}"),
        }
    }
}

/// Why a body is not a valid batch. `Display` is one sentence for the caller.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum InputError {
    /// Not JSON, or JSON of a shape none of the accepted forms has.
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// JSON, but not one of the accepted shapes.
    #[error("{0}")]
    UnsupportedShape(String),
    /// CSV that cannot be read.
    #[error("the CSV body cannot be read: {0}")]
    MalformedCsv(String),
    /// A feature column or key is absent.
    #[error("{row} has no \"{column}\": every row needs all of {features}", features = FEATURES.join(", "))]
    MissingFeature {
        /// The row, or `None` when the whole column is missing.
        row: RowRef,
        /// The missing feature.
        column: &'static str,
    },
    /// A column that is not a feature.
    #[error("unknown column \"{column}\"{hint}: the features are {features}", hint = did_you_mean(column), features = FEATURES.join(", "))]
    UnknownColumn {
        /// The column as given.
        column: String,
    },
    /// The same column or row key given twice.
    #[error("{what} is given twice")]
    Duplicate {
        /// What is repeated, e.g. `column "RM"`.
        what: String,
    },
    /// A value that is not a usable number.
    #[error("{row}, column \"{column}\": {problem}")]
    InvalidValue {
        /// The row.
        row: RowRef,
        /// The column.
        column: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// pandas row keys must be non-negative integers.
    #[error("column \"{column}\" has row key \"{key}\", which is not a non-negative integer")]
    InvalidRowKey {
        /// The column holding the key.
        column: &'static str,
        /// The key.
        key: String,
    },
    /// Columns keyed by different rows.
    #[error("rows are keyed inconsistently: column \"{column}\" {problem}")]
    InconsistentRows {
        /// The column that differs from the first one.
        column: &'static str,
        /// How it differs.
        problem: String,
    },
    /// Compressed data (or an archive), recognised by its first bytes: refused whether or not
    /// a `Content-Encoding` header said so, since decoding one could hold far more than the
    /// body limit in memory.
    #[error(
        "the body is {0} data, not text: send it uncompressed (compressed bodies are refused, with Content-Encoding or without)"
    )]
    Compressed(&'static str),
    /// More rows than the configured limit.
    #[error("the batch has {rows} rows, more than the limit of {limit}")]
    TooManyRows {
        /// Rows found (at least).
        rows: usize,
        /// The limit.
        limit: usize,
    },
}

/// At most [`EXCERPT_CHARS`] characters of client input, for an error message: a 900 KB column
/// name is named by its start, not echoed whole.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// How much of a client's string an error message repeats.
pub const EXCERPT_CHARS: usize = 64;

fn did_you_mean(column: &str) -> String {
    let cleaned = column.trim().to_ascii_uppercase();
    if let Some(f) = FEATURES.iter().find(|f| **f == cleaned) {
        return format!(" (did you mean \"{f}\"?)");
    }
    // A header such as `CHAS;RM;...`: Excel writes `;` where the decimal separator is a comma.
    for separator in [';', '\t', '|'] {
        let mut parts = cleaned.split(separator);
        if cleaned.contains(separator) && parts.all(|p| FEATURES.contains(&p.trim())) {
            let shown = if separator == '\t' {
                "tabs".to_owned()
            } else {
                format!("\"{separator}\"")
            };
            return format!(" (the columns are separated by {shown}: separate them with commas)");
        }
    }
    String::new()
}

impl InputError {
    /// A stable machine-readable code for the error body.
    pub fn code(&self) -> &'static str {
        match self {
            InputError::MalformedJson(_) => "malformed_json",
            InputError::UnsupportedShape(_) => "unsupported_shape",
            InputError::MalformedCsv(_) => "malformed_csv",
            InputError::MissingFeature { .. } => "missing_feature",
            InputError::UnknownColumn { .. } => "unknown_column",
            InputError::Duplicate { .. } => "duplicate_key",
            InputError::InvalidValue { .. } => "invalid_value",
            InputError::InvalidRowKey { .. } => "invalid_row_key",
            InputError::InconsistentRows { .. } => "inconsistent_rows",
            InputError::TooManyRows { .. } => "too_many_rows",
            InputError::Compressed(_) => "unsupported_encoding",
        }
    }
}

/// A JSON value that keeps object entries in order and refuses duplicate keys, which
/// `serde_json::Value` would silently collapse (last one wins).
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
                Ok(Json::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
                Ok(Json::Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
                Ok(Json::Number(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Json, E> {
                Ok(Json::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Json, E> {
                Ok(Json::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut entries: Vec<(String, Json)> = Vec::new();
                let mut seen: HashSet<String> = HashSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    if !seen.insert(key.clone()) {
                        return Err(de::Error::custom(format!(
                            "key \"{}\" is given twice",
                            excerpt(&key)
                        )));
                    }
                    let value = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(Json::Object(entries))
            }
        }
        d.deserialize_any(V)
    }
}

fn number(row: &RowRef, column: usize, value: &Json) -> Result<f64, InputError> {
    let invalid = |problem: String| InputError::InvalidValue {
        row: row.clone(),
        column: FEATURES[column],
        problem,
    };
    match value {
        Json::Number(n) => check_value(column, *n).map_err(|p| invalid(format!("{n} {p}"))),
        Json::Null => Err(invalid(format!("null {}", ValueProblem::NotANumber))),
        Json::String(s) => Err(invalid(format!(
            "\"{}\" is a string, not a number",
            excerpt(s)
        ))),
        Json::Bool(b) => Err(invalid(format!("{b} is a boolean, not a number"))),
        other => Err(invalid(format!("{} is not a number", other.kind()))),
    }
}

/// Maps object keys to feature indexes, refusing unknown columns and reporting missing ones.
fn columns_of<'a, T>(
    entries: &'a [(String, T)],
    row: &RowRef,
) -> Result<[&'a T; N_FEATURES], InputError> {
    let mut slots: [Option<&T>; N_FEATURES] = [None; N_FEATURES];
    for (key, value) in entries {
        let i = feature_index(key).ok_or_else(|| InputError::UnknownColumn {
            column: excerpt(key),
        })?;
        slots[i] = Some(value);
    }
    if let Some(i) = slots.iter().position(Option::is_none) {
        return Err(InputError::MissingFeature {
            row: row.clone(),
            column: FEATURES[i],
        });
    }
    let mut found = slots.iter().flatten();
    let mut next = || {
        found
            .next()
            .ok_or(InputError::UnsupportedShape(String::new()))
    };
    Ok([next()?, next()?, next()?, next()?, next()?, next()?])
}

fn record(row: RowRef, entries: &[(String, Json)]) -> Result<Row, InputError> {
    let cols = columns_of(entries, &row)?;
    let mut values = [0.0; N_FEATURES];
    for (i, v) in cols.iter().enumerate() {
        values[i] = number(&row, i, v)?;
    }
    // Every value was checked by `number`, so this cannot fail; map it anyway rather than panic.
    Row::new(values).map_err(|(i, p)| InputError::InvalidValue {
        row,
        column: FEATURES[i],
        problem: p.to_string(),
    })
}

/// The body as UTF-8 text, by the rule of [`text`]: a UTF-8 mark dropped, UTF-16 or UTF-32
/// with its mark decoded, so both apps, and both of the host's paths (forwarded bytes or its
/// text), accept the same bodies; compressed data and wide text without a mark refused in
/// their own sentences rather than as "expected value". `malformed` makes the error of the
/// body's kind.
fn utf8_body(
    body: &[u8],
    malformed: fn(String) -> InputError,
) -> Result<std::borrow::Cow<'_, [u8]>, InputError> {
    use std::borrow::Cow;
    match text::sniff(body) {
        Err(not_text) => Err(not_text_error(not_text, malformed)),
        Ok(text::Form::Utf8 { mark }) => Ok(Cow::Borrowed(&body[mark..])),
        Ok(text::Form::Wide {
            width,
            little_endian,
            name,
        }) => text::decode_wide(&body[width..], width, little_endian)
            .map(|t| Cow::Owned(t.into_bytes()))
            .ok_or_else(|| {
                malformed(format!(
                    "it starts with a {name} byte order mark but is not valid {name}"
                ))
            }),
    }
}

fn not_text_error(not_text: text::NotText, malformed: fn(String) -> InputError) -> InputError {
    match not_text {
        text::NotText::Compressed(format) => InputError::Compressed(format),
        text::NotText::WideWithoutMark => malformed(
            "it looks like UTF-16 or UTF-32 text without a byte order mark; send it as UTF-8"
                .to_owned(),
        ),
    }
}

/// `error` as it is, unless `body` is not UTF-8 at all: then that is what to say. Checked
/// only once parsing has failed, so a good body pays nothing for it.
fn unless_not_utf8(
    body: &[u8],
    error: InputError,
    malformed: fn(String) -> InputError,
) -> InputError {
    if matches!(error, InputError::TooManyRows { .. }) || std::str::from_utf8(body).is_ok() {
        return error;
    }
    malformed(
        "it is not UTF-8 text: send it as UTF-8, uncompressed (a compressed body is refused, with Content-Encoding or without)"
            .to_owned(),
    )
}

/// A stream of CSV or JSON text read by the same rule as a whole body (see [`TextReader`]);
/// compressed data and wide text without a mark are refused from their first bytes.
pub fn text_stream<R: std::io::Read>(input: R) -> Result<TextReader<R>, InputError> {
    match TextReader::new(input) {
        Ok(Ok(reader)) => Ok(reader),
        Ok(Err(not_text)) => Err(not_text_error(not_text, InputError::MalformedCsv)),
        Err(e) => Err(InputError::MalformedCsv(e.to_string())),
    }
}

/// Checks that `start`, the first bytes of a CSV file up to at least the end of its first
/// line, begins with the header row, by the same rule as [`text_stream`]. What follows the
/// first line may be cut anywhere.
pub fn check_csv_header(start: &[u8]) -> Result<(), InputError> {
    let whole = match text::sniff(start) {
        // Whole code units only: the cut may fall inside one.
        Ok(text::Form::Wide { width, .. }) => {
            &start[..width + (start.len().saturating_sub(width)) / width * width]
        }
        Ok(text::Form::Utf8 { .. }) => start,
        Err(not_text) => return Err(not_text_error(not_text, InputError::MalformedCsv)),
    };
    CsvRows::new(text_stream(whole)?).map(|_| ())
}

/// Parses a JSON body in any accepted shape into rows, refusing more than `max_rows`.
pub fn parse_json(body: &[u8], max_rows: usize) -> Result<Vec<Row>, InputError> {
    let body = utf8_body(body, InputError::MalformedJson)?;
    // The original client's form, when it is right, in one pass; anything else, and every
    // error, through the general parser below.
    if let Some(rows) = fast::parse(&body, max_rows) {
        return Ok(rows);
    }
    parse_general(&body, max_rows).map_err(|e| unless_not_utf8(&body, e, InputError::MalformedJson))
}

/// [`parse_json`] without the fast road, for the tests that compare the two.
#[cfg(test)]
fn parse_json_generally(body: &[u8], max_rows: usize) -> Result<Vec<Row>, InputError> {
    parse_general(&utf8_body(body, InputError::MalformedJson)?, max_rows)
}

/// Every accepted shape, through a JSON tree that keeps keys in order and refuses duplicates.
fn parse_general(body: &[u8], max_rows: usize) -> Result<Vec<Row>, InputError> {
    let doc: Json =
        serde_json::from_slice(body).map_err(|e| InputError::MalformedJson(e.to_string()))?;
    match doc {
        Json::Array(items) => {
            if items.len() > max_rows {
                return Err(InputError::TooManyRows {
                    rows: items.len(),
                    limit: max_rows,
                });
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Json::Object(entries) => record(RowRef::Index(i), entries),
                    other => Err(InputError::UnsupportedShape(format!(
                        "row {i} is {}, but a records array must hold objects",
                        other.kind()
                    ))),
                })
                .collect()
        }
        Json::Object(entries) => {
            let nested = entries
                .iter()
                .filter(|(_, v)| matches!(v, Json::Object(_)))
                .count();
            if nested == 0 {
                if let Some((k, v)) = entries.iter().find(|(_, v)| matches!(v, Json::Array(_))) {
                    return Err(InputError::UnsupportedShape(format!(
                        "column \"{k}\" is {}; send columns as objects keyed by row (\"0\", \"1\", ...), a list of records, or one record",
                        v.kind()
                    )));
                }
                if 1 > max_rows {
                    return Err(InputError::TooManyRows {
                        rows: 1,
                        limit: max_rows,
                    });
                }
                Ok(vec![record(RowRef::Single, &entries)?])
            } else if nested == entries.len() {
                parse_columns(&entries, max_rows)
            } else {
                Err(InputError::UnsupportedShape(
                    "the body mixes columns (objects keyed by row) with single values; use one form"
                        .into(),
                ))
            }
        }
        other => Err(InputError::UnsupportedShape(format!(
            "the body is {}, but it must be an object of columns, a list of records, or one record",
            other.kind()
        ))),
    }
}

/// pandas `to_json()` default (`orient="columns"`): one object per feature, keyed by row.
fn parse_columns(entries: &[(String, Json)], max_rows: usize) -> Result<Vec<Row>, InputError> {
    let whole = RowRef::Key("*".into());
    let cols = columns_of(entries, &whole).map_err(|e| match e {
        InputError::MissingFeature { column, .. } => InputError::UnsupportedShape(format!(
            "column \"{column}\" is missing: every one of {} is needed",
            FEATURES.join(", ")
        )),
        other => other,
    })?;
    // Each column sorted by numeric row key; all columns must have the same keys.
    let mut keyed: Vec<Vec<(u64, &str, &Json)>> = Vec::with_capacity(N_FEATURES);
    for (i, col) in cols.iter().enumerate() {
        let Json::Object(cells) = col else {
            return Err(InputError::UnsupportedShape(format!(
                "column \"{}\" is {}, but it must be an object keyed by row",
                FEATURES[i],
                col.kind()
            )));
        };
        if cells.len() > max_rows {
            return Err(InputError::TooManyRows {
                rows: cells.len(),
                limit: max_rows,
            });
        }
        let mut sorted = Vec::with_capacity(cells.len());
        for (key, value) in cells {
            let n = parse_row_key(key).ok_or_else(|| InputError::InvalidRowKey {
                column: FEATURES[i],
                key: excerpt(key),
            })?;
            sorted.push((n, key.as_str(), value));
        }
        sorted.sort_unstable_by_key(|(n, _, _)| *n);
        if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(InputError::Duplicate {
                what: format!(
                    "in column \"{}\", row {} (as \"{}\" and \"{}\")",
                    FEATURES[i], w[0].0, w[0].1, w[1].1
                ),
            });
        }
        keyed.push(sorted);
    }
    let reference = &keyed[0];
    for (i, col) in keyed.iter().enumerate().skip(1) {
        let mismatch = reference
            .iter()
            .map(|c| c.0)
            .zip(col.iter().map(|c| c.0))
            .find(|(a, b)| a != b);
        let problem = match mismatch {
            Some((a, b)) if a < b => {
                Some(format!("has no row \"{a}\", which \"{}\" has", FEATURES[0]))
            }
            Some((_, b)) => Some(format!(
                "has row \"{b}\", which \"{}\" does not",
                FEATURES[0]
            )),
            None if col.len() < reference.len() => Some(format!(
                "has no row \"{}\", which \"{}\" has",
                reference[col.len()].0,
                FEATURES[0]
            )),
            None if col.len() > reference.len() => Some(format!(
                "has row \"{}\", which \"{}\" does not",
                col[reference.len()].0,
                FEATURES[0]
            )),
            None => None,
        };
        if let Some(problem) = problem {
            return Err(InputError::InconsistentRows {
                column: FEATURES[i],
                problem,
            });
        }
    }
    let mut rows = Vec::with_capacity(reference.len());
    for r in 0..reference.len() {
        let row = RowRef::Key(reference[r].1.to_owned());
        let mut values = [0.0; N_FEATURES];
        for (i, col) in keyed.iter().enumerate() {
            values[i] = number(&row, i, col[r].2)?;
        }
        rows.push(Row::new(values).map_err(|(i, p)| InputError::InvalidValue {
            row,
            column: FEATURES[i],
            problem: p.to_string(),
        })?);
    }
    Ok(rows)
}

/// pandas writes integer index labels as decimal strings.
fn parse_row_key(key: &str) -> Option<u64> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse().ok()
}

/// A parsed CSV body: the rows for the model, and the original text to echo back.
#[derive(Debug)]
pub struct CsvTable<'a> {
    echo: Echo<'a>,
    rows: Vec<Row>,
}

/// The text each answer line starts with.
#[derive(Debug)]
enum Echo<'a> {
    /// A plain body's own lines ([`fast_csv`]), echoed as they are.
    Lines {
        body: &'a [u8],
        spans: fast_csv::Spans,
    },
    /// Records as the general reader read them, written again by the `csv` writer.
    Records {
        header: csv::StringRecord,
        records: Vec<csv::StringRecord>,
    },
}

impl CsvTable<'_> {
    /// The validated rows, in file order.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The input CSV with a `prediction` column appended to every line.
    pub fn render_with_predictions(&self, predictions: &[f64]) -> Vec<u8> {
        match &self.echo {
            Echo::Lines { body, spans } => {
                let mut out = Vec::with_capacity(body.len() + 24 * (predictions.len() + 1));
                out.extend_from_slice(&body[spans.header.0..spans.header.1]);
                out.extend_from_slice(b",prediction\n");
                for (&(start, end), p) in spans.lines.iter().zip(predictions) {
                    out.extend_from_slice(&body[start..end]);
                    out.push(b',');
                    write_display(&mut out, *p);
                    out.push(b'\n');
                }
                out
            }
            Echo::Records { header, records } => render_records(header, records, predictions),
        }
    }
}

/// Writes `value` exactly as `format!("{value}")` does, a few times faster: the shortest
/// digits that read back to it, from zmij, laid out as `Display` lays them out.
///
/// Both pick the nearest of the shortest candidates, but when two are equally near
/// (989671000828220.25: `.2` or `.3`) they may pick differently. Equally near means the
/// value is exactly halfway, so its exact decimal form has one digit more than the shortest;
/// a double's exact form has as many decimals as it has fraction bits. So zmij's text is used
/// only when the value has more than one fraction bit beyond its decimals; otherwise, and for
/// exponents, infinities and NaN, `Display` writes it.
fn write_display(out: &mut Vec<u8>, value: f64) {
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format(value);
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
    let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
    if !plain || fraction_bits(value) <= decimals + 1 {
        // Writing to a Vec cannot fail.
        let _ = std::io::Write::write_fmt(out, format_args!("{value}"));
        return;
    }
    out.extend_from_slice(text.as_bytes());
}

/// How many binary digits after the point a finite double's exact value has.
fn fraction_bits(value: f64) -> usize {
    let bits = value.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, shift) = if exponent == 0 {
        (fraction, 1074)
    } else {
        (fraction | 1 << 52, 1075 - exponent)
    };
    if mantissa == 0 {
        return 0;
    }
    usize::try_from(shift - i64::from(mantissa.trailing_zeros())).unwrap_or(0)
}

/// The `csv` writer's lines: each record as read, then its prediction.
fn render_records(
    header: &csv::StringRecord,
    records: &[csv::StringRecord],
    predictions: &[f64],
) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(64 * (records.len() + 1)));
    let mut out = Vec::new();
    let result: Result<(), csv::Error> = (|| {
        w.write_record(header.iter().chain(["prediction"]))?;
        // One buffer for every prediction's text, and no copy of the record.
        let mut cell = String::new();
        for (record, p) in records.iter().zip(predictions) {
            cell.clear();
            let _ = write!(cell, "{p}");
            w.write_record(record.iter().chain([cell.as_str()]))?;
        }
        w.flush()?;
        Ok(())
    })();
    // Writing to a Vec cannot fail; if it somehow did, an empty body is still no panic.
    if result.is_ok() {
        out = w.into_inner().unwrap_or_default();
    }
    out
}

/// Parses CSV with a header row naming each feature once, in any order.
pub fn parse_csv(body: &[u8], max_rows: usize) -> Result<CsvTable<'_>, InputError> {
    // A plain body, in one pass; anything else, and every error, through the `csv` reader.
    if let Some((rows, spans)) = fast_csv::parse(body, max_rows) {
        return Ok(CsvTable {
            echo: Echo::Lines { body, spans },
            rows,
        });
    }
    parse_csv_generally(body, max_rows)
}

/// [`parse_csv`] without the fast road (and for the tests that compare the two).
fn parse_csv_generally(body: &[u8], max_rows: usize) -> Result<CsvTable<'static>, InputError> {
    let body = utf8_body(body, InputError::MalformedCsv)?;
    read_csv_table(&body, max_rows).map_err(|e| unless_not_utf8(&body, e, InputError::MalformedCsv))
}

/// Every row of a UTF-8 CSV body, through the `csv` reader.
fn read_csv_table(body: &[u8], max_rows: usize) -> Result<CsvTable<'static>, InputError> {
    let mut reader = CsvRows::new(body)?;
    let mut records = Vec::new();
    let mut rows = Vec::new();
    while let Some(next) = reader.next_row() {
        let (record, row) = next?;
        if rows.len() == max_rows {
            return Err(InputError::TooManyRows {
                rows: max_rows + 1,
                limit: max_rows,
            });
        }
        rows.push(row);
        records.push(record);
    }
    Ok(CsvTable {
        echo: Echo::Records {
            header: reader.header().clone(),
            records,
        },
        rows,
    })
}

/// The longest header line a CSV may have (a 100,000-character column name is refused by
/// name, not by length).
pub const MAX_CSV_HEADER_BYTES: u64 = 1 << 20;
/// The longest data line: six numbers need well under 1 KiB.
pub const MAX_CSV_ROW_BYTES: u64 = 64 << 10;
/// What the reader may have read ahead of the line it is in (its buffer), on top of a limit.
const READ_AHEAD: u64 = 64 << 10;

/// A reader that fails once more than a limit has been read since the last checkpoint, so
/// one line (an unclosed quote, a field of spaces) cannot take memory without bound.
#[derive(Debug)]
struct Bounded<R> {
    inner: R,
    since: std::cell::Cell<u64>,
    limit: std::cell::Cell<u64>,
}

impl<R> Bounded<R> {
    /// A new line starts: up to `limit` bytes may come before the next checkpoint.
    fn checkpoint(&self, limit: u64) {
        self.since.set(0);
        self.limit.set(limit);
    }
}

impl<R: std::io::Read> std::io::Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let since = self.since.get() + n as u64;
        self.since.set(since);
        if since > self.limit.get() + READ_AHEAD {
            return Err(std::io::Error::other(format!(
                "a line is longer than {} KiB",
                self.limit.get() >> 10
            )));
        }
        Ok(n)
    }
}

/// The rows of a CSV text, read one at a time from any reader: the header row is checked
/// when it is made, each data row when it is read. Memory stays one row whatever the size:
/// a header over [`MAX_CSV_HEADER_BYTES`] or a row over [`MAX_CSV_ROW_BYTES`] is an error.
#[derive(Debug)]
pub struct CsvRows<R> {
    reader: csv::Reader<Bounded<R>>,
    header: csv::StringRecord,
    /// Where each feature is in a record.
    position: [usize; N_FEATURES],
    record: csv::StringRecord,
}

impl<R: std::io::Read> CsvRows<R> {
    /// Reads and checks the header row: every feature once, nothing else, in any order. A
    /// UTF-8 byte order mark is skipped.
    pub fn new(input: R) -> Result<CsvRows<R>, InputError> {
        let bounded = Bounded {
            inner: input,
            since: std::cell::Cell::new(0),
            limit: std::cell::Cell::new(MAX_CSV_HEADER_BYTES),
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(bounded);
        let header = reader
            .headers()
            .map_err(|e| InputError::MalformedCsv(e.to_string()))?
            .clone();
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            return Err(InputError::MalformedCsv(format!(
                "the body is empty; the first line must name the columns {}",
                FEATURES.join(",")
            )));
        }
        let mut position = [usize::MAX; N_FEATURES];
        for (col, name) in header.iter().enumerate() {
            let i = feature_index(name).ok_or_else(|| InputError::UnknownColumn {
                column: excerpt(name),
            })?;
            if position[i] != usize::MAX {
                return Err(InputError::Duplicate {
                    what: format!("column \"{}\"", FEATURES[i]),
                });
            }
            position[i] = col;
        }
        if let Some(i) = position.iter().position(|p| *p == usize::MAX) {
            return Err(InputError::MissingFeature {
                row: RowRef::Line(1),
                column: FEATURES[i],
            });
        }
        reader.get_ref().checkpoint(MAX_CSV_ROW_BYTES);
        Ok(CsvRows {
            reader,
            header,
            position,
            record: csv::StringRecord::new(),
        })
    }

    /// The header row as written.
    pub fn header(&self) -> &csv::StringRecord {
        &self.header
    }

    /// The next data row, as written and as parsed; `None` at the end.
    pub fn next_row(&mut self) -> Option<Result<(csv::StringRecord, Row), InputError>> {
        self.reader.get_ref().checkpoint(MAX_CSV_ROW_BYTES);
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => Some(self.parse_record().map(|row| (self.record.clone(), row))),
            Err(e) => Some(Err(InputError::MalformedCsv(e.to_string()))),
        }
    }

    /// Like [`CsvRows::next_row`], but lends the record instead of copying it.
    pub fn next_row_ref(&mut self) -> Option<Result<(&csv::StringRecord, Row), InputError>> {
        self.reader.get_ref().checkpoint(MAX_CSV_ROW_BYTES);
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => Some(self.parse_record().map(|row| (&self.record, row))),
            Err(e) => Some(Err(InputError::MalformedCsv(e.to_string()))),
        }
    }

    fn parse_record(&self) -> Result<Row, InputError> {
        let record = &self.record;
        let row = RowRef::Line(record.position().map_or(0, |p| p.line()));
        let mut values = [0.0; N_FEATURES];
        for (i, p) in self.position.iter().enumerate() {
            let text = record.get(*p).unwrap_or("").trim();
            let v: f64 = text.parse().map_err(|_| InputError::InvalidValue {
                row: row.clone(),
                column: FEATURES[i],
                problem: format!("\"{}\" is not a number", excerpt(text)),
            })?;
            values[i] = check_value(i, v).map_err(|p| InputError::InvalidValue {
                row: row.clone(),
                column: FEATURES[i],
                problem: format!("{text} {p}"),
            })?;
        }
        Row::new(values).map_err(|(i, p)| InputError::InvalidValue {
            row,
            column: FEATURES[i],
            problem: p.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: [f64; 6] = [0.0, 6.575, 296.0, 15.3, 396.9, 4.98];
    const ORIGINAL_CLIENT: &str = r#"{"CHAS":{"0":0},"RM":{"0":6.575},"TAX":{"0":296.0},"PTRATIO":{"0":15.3},"B":{"0":396.9},"LSTAT":{"0":4.98}}"#;

    fn err(body: &str) -> InputError {
        parse_json(body.as_bytes(), 10).unwrap_err()
    }

    #[test]
    fn the_original_clients_payload_parses() {
        let rows = parse_json(ORIGINAL_CLIENT.as_bytes(), 10).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].values(), &FIRST);
    }

    #[test]
    fn columns_are_ordered_by_the_numeric_value_of_row_keys() {
        let body = r#"{"CHAS":{"10":1,"2":0},"RM":{"2":5,"10":7},"TAX":{"2":1,"10":1},
            "PTRATIO":{"2":1,"10":1},"B":{"2":1,"10":1},"LSTAT":{"10":1,"2":1}}"#;
        let rows = parse_json(body.as_bytes(), 10).unwrap();
        assert_eq!(rows[0].values()[1], 5.0);
        assert_eq!(rows[1].values()[1], 7.0);
        assert_eq!(rows[1].values()[0], 1.0);
    }

    #[test]
    fn records_and_a_single_object_parse() {
        let one = r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#;
        assert_eq!(parse_json(one.as_bytes(), 10).unwrap()[0].values(), &FIRST);
        let many = format!("[{one},{one}]");
        assert_eq!(parse_json(many.as_bytes(), 10).unwrap().len(), 2);
        assert!(parse_json(b"[]", 10).unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_row_and_column() {
        let e = err(r#"[{"CHAS":0,"RM":"six","TAX":1,"PTRATIO":1,"B":1,"LSTAT":1}]"#);
        assert_eq!(e.code(), "invalid_value");
        assert_eq!(
            e.to_string(),
            "row 0, column \"RM\": \"six\" is a string, not a number"
        );
        let e = err(r#"{"CHAS":2,"RM":6,"TAX":1,"PTRATIO":1,"B":1,"LSTAT":1}"#);
        assert_eq!(e.to_string(), "the row, column \"CHAS\": 2 must be 0 or 1");
        let e = err(
            r#"{"CHAS":{"0":0},"RM":{"0":null},"TAX":{"0":1},"PTRATIO":{"0":1},"B":{"0":1},"LSTAT":{"0":1}}"#,
        );
        assert_eq!(
            e.to_string(),
            "row \"0\", column \"RM\": null is not a number (NaN or null)"
        );
    }

    #[test]
    fn errors_repeat_only_a_bounded_excerpt_of_what_the_client_sent() {
        let huge = "Q".repeat(900_000);
        for body in [
            format!(r#"{{"CHAS":0,"RM":6,"TAX":1,"PTRATIO":1,"B":1,"{huge}":1}}"#),
            format!(r#"{{"CHAS":0,"RM":"{huge}","TAX":1,"PTRATIO":1,"B":1,"LSTAT":1}}"#),
            format!(
                r#"{{"CHAS":{{"{huge}":0}},"RM":{{"0":6}},"TAX":{{"0":1}},"PTRATIO":{{"0":1}},"B":{{"0":1}},"LSTAT":{{"0":1}}}}"#
            ),
        ] {
            let e = err(&body);
            let text = e.to_string();
            assert!(text.len() < 300, "{} bytes: {}", text.len(), &text[..200]);
            assert!(text.contains("QQQQ…"), "{text}");
        }
        let csv = format!("CHAS,RM,TAX,PTRATIO,B,{huge}\n0,6,1,1,1,1\n");
        let e = parse_csv(csv.as_bytes(), 10).unwrap_err();
        assert!(e.to_string().len() < 300);
        let csv = format!("CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,{huge},1,1,1,1\n");
        let e = parse_csv(csv.as_bytes(), 10).unwrap_err();
        assert!(e.to_string().len() < 300);
        assert_eq!(excerpt("short"), "short");
        assert_eq!(excerpt(&"é".repeat(100)).chars().count(), EXCERPT_CHARS + 1);
    }

    #[test]
    fn a_typo_in_a_column_name_is_refused_with_a_hint() {
        let e = err(r#"{"CHAS":0,"RM":6,"TAX":1,"PTRATIO":1,"B":1,"LSTAT ":1}"#);
        assert_eq!(e.code(), "unknown_column");
        assert!(e.to_string().contains("did you mean \"LSTAT\"?"), "{e}");
    }

    #[test]
    fn missing_features_and_shapes_are_reported() {
        let e = err(r#"{"CHAS":0,"RM":6,"TAX":1,"PTRATIO":1,"B":1}"#);
        assert_eq!(e.code(), "missing_feature");
        assert!(e.to_string().contains("\"LSTAT\""));
        assert_eq!(err("[1,2]").code(), "unsupported_shape");
        assert_eq!(err("42").code(), "unsupported_shape");
        assert_eq!(err(r#"{"CHAS":[0]}"#).code(), "unsupported_shape");
        assert_eq!(err("{\"CHAS\":").code(), "malformed_json");
        assert_eq!(err("NaN").code(), "malformed_json");
        assert_eq!(err(r#"{"CHAS":0,"CHAS":1}"#).code(), "malformed_json");
    }

    #[test]
    fn inconsistent_row_keys_are_refused() {
        let e = err(
            r#"{"CHAS":{"0":0,"1":0},"RM":{"0":6},"TAX":{"0":1},"PTRATIO":{"0":1},"B":{"0":1},"LSTAT":{"0":1}}"#,
        );
        assert_eq!(e.code(), "inconsistent_rows");
        assert_eq!(
            e.to_string(),
            "rows are keyed inconsistently: column \"RM\" has no row \"1\", which \"CHAS\" has"
        );
        let e = err(
            r#"{"CHAS":{"0":0},"RM":{"x":6},"TAX":{"0":1},"PTRATIO":{"0":1},"B":{"0":1},"LSTAT":{"0":1}}"#,
        );
        assert_eq!(e.code(), "invalid_row_key");
        let e = err(
            r#"{"CHAS":{"1":0,"01":0},"RM":{"0":6},"TAX":{"0":1},"PTRATIO":{"0":1},"B":{"0":1},"LSTAT":{"0":1}}"#,
        );
        assert_eq!(e.code(), "duplicate_key");
    }

    #[test]
    fn row_limits_apply_to_every_shape() {
        let one = r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#;
        let three = format!("[{one},{one},{one}]");
        assert!(matches!(
            parse_json(three.as_bytes(), 2),
            Err(InputError::TooManyRows { rows: 3, limit: 2 })
        ));
        let csv = "CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6,1,1,1,1\n0,6,1,1,1,1\n0,6,1,1,1,1\n";
        assert_eq!(
            parse_csv(csv.as_bytes(), 2).unwrap_err().code(),
            "too_many_rows"
        );
    }

    #[test]
    fn predictions_are_written_exactly_as_display_writes_them() {
        let mut rng = crate::test_rng::Rng(0x853C_49E6_748F_EA9B);
        let mut next = move || rng.next_u64();
        let special = [
            0.0,
            -0.0,
            24.0,
            1.0,
            0.1,
            0.3,
            1e15,
            1e16,
            1e17,
            1e21,
            1e22,
            1e-5,
            1e-7,
            123.456,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            5e-324,
            f64::INFINITY,
            f64::NAN,
        ];
        let mut values = special.to_vec();
        values.extend((0..300_000).map(|_| f64::from_bits(next())));
        // Prices: the range predictions fall in, at every precision.
        for _ in 0..300_000 {
            values.push((next() % 60_000_000) as f64 / 1e6 + (next() % 1000) as f64 * 1e-13);
        }
        // Exactly halfway between two shortest candidates: n/2^15 near 24, n/2^8 near 2^29.
        for n in [1, 3, 12_345, 32_767] {
            values.push(24.0 + f64::from(n) / 32_768.0);
            values.push(536_870_912.0 + f64::from(n % 256) / 256.0);
        }
        values.extend([0x430c_20cd_e397_49e2, 0x4310_4212_307a_4181].map(f64::from_bits));
        let mut out = Vec::new();
        for v in values {
            out.clear();
            write_display(&mut out, v);
            assert_eq!(
                String::from_utf8_lossy(&out),
                format!("{v}"),
                "{:#x}",
                v.to_bits()
            );
        }
    }

    #[test]
    fn csv_columns_may_come_in_any_order_and_are_echoed_with_predictions() {
        let csv = "LSTAT,B,PTRATIO,TAX,RM,CHAS\n4.98,396.9,15.3,296,6.575,0\n";
        let table = parse_csv(csv.as_bytes(), 10).unwrap();
        assert_eq!(table.rows()[0].values(), &FIRST);
        let out = String::from_utf8(table.render_with_predictions(&[24.5])).unwrap();
        assert_eq!(
            out,
            "LSTAT,B,PTRATIO,TAX,RM,CHAS,prediction\n4.98,396.9,15.3,296,6.575,0,24.5\n"
        );
    }

    #[test]
    fn csv_errors_name_the_line_and_column() {
        let e = parse_csv(
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6,1,1,1,1\n0,x,1,1,1,1\n",
            10,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3, column \"RM\": \"x\" is not a number"
        );
        let e = parse_csv(b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,inf,1,1,1,1\n", 10).unwrap_err();
        assert_eq!(e.to_string(), "line 2, column \"RM\": inf is infinite");
        assert_eq!(
            parse_csv(b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6,1\n", 10)
                .unwrap_err()
                .code(),
            "malformed_csv"
        );
        assert_eq!(
            parse_csv(b"CHAS,RM,TAX,PTRATIO,B\n0,6,1,1,1\n", 10)
                .unwrap_err()
                .code(),
            "missing_feature"
        );
        assert_eq!(
            parse_csv(b"CHAS,RM,TAX,PTRATIO,B,LSTAT,X\n", 10)
                .unwrap_err()
                .code(),
            "unknown_column"
        );
        assert_eq!(parse_csv(b"", 10).unwrap_err().code(), "malformed_csv");
    }
}

#[cfg(test)]
mod encoding_tests {
    use super::*;

    const ROW: &str = r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#;
    const CSV: &str = "CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6.575,296,15.3,396.9,4.98\n";

    fn with_bom(text: &str) -> Vec<u8> {
        [b"\xEF\xBB\xBF", text.as_bytes()].concat()
    }

    fn utf16le(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn a_utf8_byte_order_mark_is_ignored_in_json_and_csv() {
        assert_eq!(parse_json(&with_bom(ROW), 10).unwrap().len(), 1);
        assert_eq!(parse_csv(&with_bom(CSV), 10).unwrap().rows.len(), 1);
    }

    #[test]
    fn utf16_and_utf32_with_a_byte_order_mark_are_read_as_the_functions_host_reads_them() {
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(ROW.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(ROW.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        let le32: Vec<u8> = [0xFF, 0xFE, 0, 0]
            .into_iter()
            .chain(ROW.chars().flat_map(|c| (c as u32).to_le_bytes()))
            .collect();
        for body in [le, be, le32] {
            assert_eq!(parse_json(&body, 10).unwrap().len(), 1);
        }
        let csv = utf16le(&format!("\u{feff}{CSV}"));
        assert_eq!(parse_csv(&csv, 10).unwrap().rows.len(), 1);
        // A mark followed by something else is refused, not guessed at.
        let e = parse_json(&[0xFF, 0xFE, b'{'], 10).unwrap_err();
        assert!(e.to_string().contains("not valid UTF-16"), "{e}");
    }

    /// The Functions host forwards a body without its `Content-Encoding` (azure-functions-host
    /// `Extensions/HttpRequestExtensions.cs`, `ToHttpRequestMessage`: content headers are
    /// refused by `TryAddWithoutValidation`), so compressed bytes are told by their start.
    #[test]
    fn compressed_bodies_are_named_by_their_bytes_not_taken_for_utf16() {
        let gzip = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03];
        for e in [
            parse_json(&gzip, 10).unwrap_err(),
            parse_csv(&gzip, 10).unwrap_err(),
            check_csv_header(&gzip).unwrap_err(),
        ] {
            assert_eq!(e, InputError::Compressed("gzip"));
            assert_eq!(e.code(), "unsupported_encoding");
            assert!(e.to_string().contains("send it uncompressed"), "{e}");
        }
        // Brotli has no magic number: bytes that are not UTF-8 say so, and what to do.
        let brotli = [0x8B, 0x02, 0x80, b'{', b'"', 0xE3, 0x03];
        let e = parse_json(&brotli, 10).unwrap_err();
        assert_eq!(e.code(), "malformed_json");
        assert!(e.to_string().contains("not UTF-8 text"), "{e}");
        let e = parse_csv(&brotli, 10).unwrap_err();
        assert!(e.to_string().contains("not UTF-8 text"), "{e}");
        // A UTF-8 body keeps its own error.
        let e = parse_json(b"{\"CHAS\":", 10).unwrap_err();
        assert!(!e.to_string().contains("UTF-8"), "{e}");
    }

    #[test]
    fn a_csv_file_is_read_by_the_same_rule_as_a_csv_body() {
        let model = crate::Model::embedded().unwrap();
        let mut expected = Vec::new();
        crate::csv_stream::score_csv(&model, CSV.as_bytes(), &mut expected).unwrap();
        let marked = utf16le(&format!("\u{feff}{CSV}"));
        let mut scored = Vec::new();
        crate::csv_stream::score_csv(&model, marked.as_slice(), &mut scored).unwrap();
        assert_eq!(scored, expected);
        assert_eq!(parse_csv(&marked, 10).unwrap().rows.len(), 1);
        // The header check of a stream's start, cut anywhere after the first line.
        for cut in 56..marked.len() {
            assert_eq!(check_csv_header(&marked[..cut]), Ok(()), "{cut}");
        }
        let e =
            crate::csv_stream::score_csv(&model, utf16le(CSV).as_slice(), Vec::new()).unwrap_err();
        assert!(e.to_string().contains("send it as UTF-8"), "{e}");
    }

    #[test]
    fn utf16_without_a_byte_order_mark_is_refused_in_one_sentence() {
        let e = parse_json(&utf16le(ROW), 10).unwrap_err();
        assert_eq!(e.code(), "malformed_json");
        assert!(e.to_string().contains("send it as UTF-8"), "{e}");
        let e = parse_csv(&utf16le(CSV), 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the CSV body cannot be read: it looks like UTF-16 or UTF-32 text without a byte order mark; send it as UTF-8"
        );
    }

    #[test]
    fn a_header_split_by_semicolons_or_tabs_says_so() {
        let e = parse_csv(
            b"CHAS;RM;TAX;PTRATIO;B;LSTAT\n0;6,5;296;15,3;396,9;4,98\n",
            10,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("(the columns are separated by \";\": separate them with commas)"),
            "{e}"
        );
        let e = parse_csv(b"CHAS\tRM\tTAX\tPTRATIO\tB\tLSTAT\n", 10).unwrap_err();
        assert!(e.to_string().contains("separated by tabs"), "{e}");
    }
}
