//! The JSON forms of a body that is right, in one pass: pandas' column form
//! (`DataFrame.to_json()`, `orient="columns"`, the original client's), a records array and a
//! single record. Columns are read straight into `(row number, value)` pairs, row keys are
//! turned into integers while they are read, and no string, map or JSON tree is built per cell.
//!
//! This is only the fast road. It answers `Some` only when the general parser
//! ([`super::parse_json`]) would return exactly these rows, and `None` for anything else
//! (another shape, a bad key or value, a duplicate, too many rows), which the general parser
//! then reads again and explains. Numbers are read by the same `serde_json` (with
//! `float_roundtrip`) and converted the same way, so the values are the same bits.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::features::{N_FEATURES, Row, feature_index};

/// The rows of a body in one of the three forms, in the order the general parser gives
/// them; `None` when the body is not one with only valid rows (see the module documentation).
pub(super) fn parse(body: &[u8], max_rows: usize) -> Option<Vec<Row>> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let body = Body { max_rows }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    match body {
        Parsed::Columns(columns) => rows(columns),
        Parsed::Rows(rows) => Some(rows),
    }
}

enum Parsed {
    Columns([Vec<(u64, f64)>; N_FEATURES]),
    Rows(Vec<Row>),
}

/// Sorts each column by row number and lines them up: every column must hold the same row
/// numbers, each once.
fn rows(mut columns: [Vec<(u64, f64)>; N_FEATURES]) -> Option<Vec<Row>> {
    for column in &mut columns {
        // pandas writes rows in index order, so this is usually one pass that finds it sorted.
        if !column.is_sorted_by_key(|c| c.0) {
            column.sort_unstable_by_key(|c| c.0);
        }
        if column.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
    }
    let [first, rest @ ..] = &columns;
    for column in rest {
        if column.len() != first.len() || column.iter().zip(first).any(|(a, b)| a.0 != b.0) {
            return None;
        }
    }
    (0..first.len())
        .map(|r| Row::new(std::array::from_fn(|f| columns[f][r].1)).ok())
        .collect()
}

/// The whole body: an object (of columns, or one record) or an array of records.
struct Body {
    max_rows: usize,
}

impl<'de> DeserializeSeed<'de> for Body {
    type Value = Parsed;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Parsed, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Body {
    type Value = Parsed;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or an array")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Parsed, A::Error> {
        Frame {
            max_rows: self.max_rows,
        }
        .visit_map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
        let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max_rows));
        while let Some(row) = seq.next_element_seed(Record)? {
            if rows.len() == self.max_rows {
                return Err(de::Error::custom("too many rows"));
            }
            rows.push(row);
        }
        Ok(Parsed::Rows(rows))
    }
}

/// One record of a records array: an object of the six features, each a number, once.
struct Record;

impl<'de> DeserializeSeed<'de> for Record {
    type Value = Row;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Row, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Record {
    type Value = Row;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
        let mut values = [None; N_FEATURES];
        while let Some(feature) = map.next_key_seed(FeatureName)? {
            if values[feature]
                .replace(map.next_value_seed(Number)?)
                .is_some()
            {
                return Err(de::Error::custom("a feature is given twice"));
            }
        }
        row_of(values)
    }
}

/// The row of six values, each given once and valid.
fn row_of<E: de::Error>(values: [Option<f64>; N_FEATURES]) -> Result<Row, E> {
    let mut all = [0.0; N_FEATURES];
    for (slot, value) in all.iter_mut().zip(values) {
        *slot = value.ok_or_else(|| E::custom("a feature is missing"))?;
    }
    Row::new(all).map_err(|_| E::custom("a value is not valid"))
}

/// A top-level object: the six feature names, each once, each either an object of rows
/// (the column form) or a number (a single record), all the same.
struct Frame {
    max_rows: usize,
}

impl<'de> Frame {
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut columns: [Option<Vec<(u64, f64)>>; N_FEATURES] = Default::default();
        let mut numbers: [Option<f64>; N_FEATURES] = [None; N_FEATURES];
        let mut rows_hint = 0;
        while let Some(feature) = map.next_key_seed(FeatureName)? {
            if columns[feature].is_some() || numbers[feature].is_some() {
                return Err(de::Error::custom("a feature is given twice"));
            }
            match map.next_value_seed(Cell {
                max_rows: self.max_rows,
                rows_hint,
            })? {
                Value::Column(column) => {
                    rows_hint = column.len();
                    columns[feature] = Some(column);
                }
                Value::Number(n) => numbers[feature] = Some(n),
            }
        }
        if numbers.iter().all(Option::is_none) {
            let mut missing = false;
            let columns = columns.map(|c| {
                missing |= c.is_none();
                c.unwrap_or_default()
            });
            if missing {
                return Err(de::Error::custom("a feature is missing"));
            }
            return Ok(Parsed::Columns(columns));
        }
        // A single record: a number for every feature and no column.
        if columns.iter().any(Option::is_some) || self.max_rows == 0 {
            return Err(de::Error::custom("not one form"));
        }
        Ok(Parsed::Rows(vec![row_of(numbers)?]))
    }
}

/// A value of the top-level object.
enum Value {
    Column(Vec<(u64, f64)>),
    Number(f64),
}

/// Reads a column or a number, whichever the body holds.
struct Cell {
    max_rows: usize,
    rows_hint: usize,
}

impl<'de> DeserializeSeed<'de> for Cell {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Cell {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column or a number")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        Column {
            max_rows: self.max_rows,
            rows_hint: self.rows_hint,
        }
        .visit_map(map)
        .map(Value::Column)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Number.visit_i64(v).map(Value::Number)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Number.visit_u64(v).map(Value::Number)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number.visit_f64(v).map(Value::Number)
    }
}

/// A key of the top-level object: the index of the feature it names.
struct FeatureName;

impl<'de> DeserializeSeed<'de> for FeatureName {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FeatureName {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a feature name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
        feature_index(v).ok_or_else(|| E::custom("not a feature"))
    }
}

/// One column: row keys (decimal integers, as pandas writes its index) to numbers.
struct Column {
    max_rows: usize,
    /// The previous column's length: the next is most likely the same.
    rows_hint: usize,
}

impl<'de> Visitor<'de> for Column {
    type Value = Vec<(u64, f64)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object keyed by row")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut cells = Vec::with_capacity(self.rows_hint.min(self.max_rows));
        while let Some(row) = map.next_key_seed(RowKey)? {
            if cells.len() == self.max_rows {
                return Err(de::Error::custom("too many rows"));
            }
            cells.push((row, map.next_value_seed(Number)?));
        }
        Ok(cells)
    }
}

/// A row key as its number: ASCII digits only, as [`super::parse_row_key`] reads it.
struct RowKey;

impl<'de> DeserializeSeed<'de> for RowKey {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for RowKey {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        super::parse_row_key(v).ok_or_else(|| E::custom("not a row key"))
    }
}

/// A JSON number, converted as the general parser's `Json` converts it; anything else leaves.
struct Number;

impl<'de> DeserializeSeed<'de> for Number {
    type Value = f64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<f64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Number {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_i64<E>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_f64<E>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the general parser gives, through its slow road only.
    fn general(body: &str, max_rows: usize) -> Option<Vec<Row>> {
        super::super::parse_json_generally(body.as_bytes(), max_rows).ok()
    }

    fn check(body: &str, max_rows: usize) {
        let fast = parse(body.as_bytes(), max_rows);
        if let Some(fast) = &fast {
            assert_eq!(Some(fast), general(body, max_rows).as_ref(), "{body}");
        }
    }

    const ORIGINAL: &str = r#"{"CHAS":{"0":0},"RM":{"0":6.575},"TAX":{"0":296.0},"PTRATIO":{"0":15.3},"B":{"0":396.9},"LSTAT":{"0":4.98}}"#;

    #[test]
    fn the_original_clients_body_takes_the_fast_road_to_the_same_row() {
        // (The general parser's own tests cover every error; these cover the fast road.)
        assert!(parse(ORIGINAL.as_bytes(), 10).is_some());
        check(ORIGINAL, 10);
    }

    #[test]
    fn rows_come_in_key_order_whatever_order_they_are_written_in() {
        let body = r#"{"LSTAT":{"10":1,"2":2,"1":3},"CHAS":{"1":0,"2":1,"10":0},"RM":{"2":6,"1":6,"10":6},"TAX":{"1":300,"10":300,"2":300},"PTRATIO":{"1":15,"2":15,"10":15},"B":{"1":390,"2":390,"10":390}}"#;
        let rows = parse(body.as_bytes(), 10).unwrap();
        let lstat: Vec<f64> = rows.iter().map(|r| r.values()[5]).collect();
        assert_eq!(lstat, [3.0, 2.0, 1.0]);
        check(body, 10);
    }

    #[test]
    fn anything_off_the_road_is_left_to_the_general_parser() {
        let off = [
            // Not JSON, or not one of the forms.
            r#"{"CHAS":{"0":0}"#,
            "[1]",
            "6.575",
            "{}",
            r#"[{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98},[]]"#,
            r#"{"CHAS":0,"RM":[6.575],"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#,
            // The two forms mixed in one object.
            &ORIGINAL.replace(r#""RM":{"0":6.575}"#, r#""RM":6.575"#),
            // A record with a feature missing, twice, unknown, or not a number.
            r#"[{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9}]"#,
            r#"[{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98,"RM":6}]"#,
            r#"[{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98,"X":1}]"#,
            r#"{"CHAS":0,"RM":"6.575","TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#,
            r#"{"CHAS":0.5,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#,
            // A feature missing, unknown, or twice.
            &ORIGINAL.replace(r#","LSTAT":{"0":4.98}"#, ""),
            &ORIGINAL.replace("LSTAT", "LSTATS"),
            &ORIGINAL.replace(
                r#""LSTAT":{"0":4.98}"#,
                r#""LSTAT":{"0":4.98},"RM":{"0":6.5}"#,
            ),
            // Bad row keys, a key twice (also as "00"), rows that differ between columns.
            &ORIGINAL.replace(r#""RM":{"0""#, r#""RM":{"x""#),
            &ORIGINAL.replace(r#""RM":{"0""#, r#""RM":{"-0""#),
            &ORIGINAL.replace(r#""RM":{"0":6.575}"#, r#""RM":{"0":6.575,"0":6.5}"#),
            &ORIGINAL.replace(r#""RM":{"0":6.575}"#, r#""RM":{"0":6.575,"00":6.5}"#),
            &ORIGINAL.replace(r#""RM":{"0""#, r#""RM":{"1""#),
            // Values that are not valid numbers for the model.
            &ORIGINAL.replace("6.575", "\"6.575\""),
            &ORIGINAL.replace("6.575", "null"),
            &ORIGINAL.replace(r#""CHAS":{"0":0}"#, r#""CHAS":{"0":2}"#),
            &ORIGINAL.replace("6.575", "1e400"),
            // Trailing bytes.
            &format!("{ORIGINAL} x"),
        ];
        for body in off {
            assert_eq!(parse(body.as_bytes(), 10), None, "{body}");
        }
        // More rows than allowed, in each form.
        assert_eq!(parse(ORIGINAL.as_bytes(), 0), None);
        assert_eq!(parse(RECORD.as_bytes(), 0), None);
        assert_eq!(parse(format!("[{RECORD},{RECORD}]").as_bytes(), 1), None);
    }

    const RECORD: &str = r#"{"LSTAT":4.98,"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9}"#;

    #[test]
    fn records_and_a_single_record_take_the_fast_road_to_the_same_rows() {
        for (body, rows) in [
            (RECORD.to_owned(), 1),
            (format!("[{RECORD},{}]", RECORD.replace("6.575", "7")), 2),
            ("[]".to_owned(), 0),
        ] {
            let fast = parse(body.as_bytes(), 10).expect("the fast road answers");
            assert_eq!(fast.len(), rows);
            assert_eq!(Some(fast), general(&body, 10), "{body}");
        }
    }

    #[test]
    fn mutated_bodies_never_take_the_fast_road_to_another_answer() {
        // A small deterministic fuzzer: valid bodies in each form (columns, one record,
        // records) of 0 to 4 rows in shuffled key order, then bytes replaced, deleted or
        // doubled. Wherever the fast road answers,
        // the general parser must give the same rows; a valid body must take the fast road.
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let names = ["CHAS", "RM", "TAX", "PTRATIO", "B", "LSTAT"];
        let values = [
            "0",
            "1",
            "6.575",
            "296.0",
            "15.3",
            "-2e-3",
            "396.90000000000003",
            "7",
        ];
        let mut fast_answers = 0;
        for case in 0..20_000 {
            let rows = next(5);
            let keys: Vec<String> = (0..rows)
                .map(|r| (r * 7 + next(3) * 100).to_string())
                .collect();
            let mut columns: Vec<String> = names
                .iter()
                .map(|name| {
                    let cells: Vec<String> = keys
                        .iter()
                        .map(|k| {
                            let v = if *name == "CHAS" {
                                values[next(2)]
                            } else {
                                values[next(values.len())]
                            };
                            format!("\"{k}\":{v}")
                        })
                        .collect();
                    format!("\"{name}\":{{{}}}", cells.join(","))
                })
                .collect();
            columns.rotate_left(next(6));
            let record = |next: &mut dyn FnMut(usize) -> usize| {
                let mut fields: Vec<String> = names
                    .iter()
                    .map(|name| {
                        let v = if *name == "CHAS" {
                            values[next(2)]
                        } else {
                            values[next(values.len())]
                        };
                        format!("\"{name}\":{v}")
                    })
                    .collect();
                fields.rotate_left(next(6));
                format!("{{{}}}", fields.join(","))
            };
            let mut body = match case % 3 {
                0 => format!("{{{}}}", columns.join(",")),
                1 => record(&mut next),
                _ => {
                    let records: Vec<String> = (0..rows).map(|_| record(&mut next)).collect();
                    format!("[{}]", records.join(","))
                }
            }
            .into_bytes();
            let valid = general(std::str::from_utf8(&body).unwrap(), 10).is_some();
            if case % 4 != 0 {
                for _ in 0..1 + next(3) {
                    if body.is_empty() {
                        break;
                    }
                    let at = next(body.len());
                    match next(3) {
                        0 => body[at] = b"{}[]\",:0123456789.e-\"x "[next(21)],
                        1 => {
                            body.remove(at);
                        }
                        _ => body.insert(at, body[at]),
                    }
                }
            }
            let Ok(text) = std::str::from_utf8(&body) else {
                continue;
            };
            let fast = parse(text.as_bytes(), 10);
            if case % 4 == 0 && valid {
                assert!(fast.is_some(), "a valid body left the fast road: {text}");
            }
            if let Some(fast) = fast {
                fast_answers += 1;
                assert_eq!(Some(fast), general(text, 10), "{text}");
            }
        }
        assert!(fast_answers > 5_000, "{fast_answers}");
    }

    #[test]
    fn escaped_names_and_keys_and_every_number_form_agree_with_the_general_parser() {
        for body in [
            ORIGINAL.replace("\"RM\"", r#""R\u004d""#),
            ORIGINAL.replace(r#""RM":{"0""#, r#""RM":{"\u0030""#),
            ORIGINAL.replace("6.575", "6575e-3"),
            ORIGINAL.replace("296.0", "296"),
            ORIGINAL.replace("15.3", "-0.0"),
            ORIGINAL.replace("396.9", "18446744073709551615"),
            ORIGINAL.replace("396.9", "-9223372036854775808"),
            ORIGINAL.replace("4.98", "4.9800000000000000000000000001"),
            ORIGINAL.replace(r#""RM":{"0""#, r#""RM":{"18446744073709551615""#),
        ] {
            let fast = parse(body.as_bytes(), 10);
            assert_eq!(fast, general(&body, 10), "{body}");
        }
    }
}
