//! pandas' column form (`DataFrame.to_json()`, `orient="columns"`) in one pass: each column
//! is read straight into `(row number, value)` pairs, row keys are turned into integers while
//! they are read, and no string, map or JSON tree is built per cell.
//!
//! This is only the fast road for bodies that are right. It answers `Some` only when the
//! general parser ([`super::parse_json`]) would return exactly these rows, and `None` for
//! anything else (another shape, a bad key or value, a duplicate, too many rows), which the
//! general parser then reads again and explains. Numbers are read by the same
//! `serde_json` (with `float_roundtrip`) and converted the same way, so the values are the
//! same bits.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::features::{N_FEATURES, Row, feature_index};

/// The rows of a pandas column-form body, in row-number order; `None` when the body is not
/// one with only valid rows (see the module documentation).
pub(super) fn parse(body: &[u8], max_rows: usize) -> Option<Vec<Row>> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let columns = Frame { max_rows }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    rows(columns)
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

/// The top-level object: the six feature names, each once, each an object of rows.
struct Frame {
    max_rows: usize,
}

impl<'de> DeserializeSeed<'de> for Frame {
    type Value = [Vec<(u64, f64)>; N_FEATURES];
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Frame {
    type Value = [Vec<(u64, f64)>; N_FEATURES];
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of columns")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut columns: [Option<Vec<(u64, f64)>>; N_FEATURES] = Default::default();
        let mut rows_hint = 0;
        while let Some(feature) = map.next_key_seed(FeatureName)? {
            if columns[feature].is_some() {
                return Err(de::Error::custom("a feature is given twice"));
            }
            let column = map.next_value_seed(Column {
                max_rows: self.max_rows,
                rows_hint,
            })?;
            rows_hint = column.len();
            columns[feature] = Some(column);
        }
        let mut missing = false;
        let columns = columns.map(|c| {
            missing |= c.is_none();
            c.unwrap_or_default()
        });
        if missing {
            return Err(de::Error::custom("a feature is missing"));
        }
        Ok(columns)
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

impl<'de> DeserializeSeed<'de> for Column {
    type Value = Vec<(u64, f64)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
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
            // Another shape, or not JSON.
            r#"[{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}]"#,
            r#"{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}"#,
            r#"{"CHAS":{"0":0}"#,
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
        // More rows than allowed.
        assert_eq!(parse(ORIGINAL.as_bytes(), 0), None);
    }

    #[test]
    fn mutated_bodies_never_take_the_fast_road_to_another_answer() {
        // A small deterministic fuzzer: valid pandas bodies of 0 to 4 rows in shuffled key
        // order, then bytes replaced, deleted or doubled. Wherever the fast road answers,
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
            let mut body = format!("{{{}}}", columns.join(",")).into_bytes();
            let valid = general(std::str::from_utf8(&body).unwrap(), 10).is_some();
            if case % 4 != 0 {
                for _ in 0..1 + next(3) {
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
