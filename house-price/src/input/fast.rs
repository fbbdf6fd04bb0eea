//! The JSON forms of a body that is right, in one pass over its bytes: pandas' column form
//! (`DataFrame.to_json()`, `orient="columns"`, the original client's), a records array and a
//! single record. Columns are read straight into `(row number, value)` pairs, row keys are
//! turned into integers while they are read, and no string, map or JSON tree is built.
//!
//! This is only the fast road. It answers `Some` only when the general parser
//! ([`super::parse_json`], `serde_json` into a tree) would return exactly these rows, and
//! `None` for anything else (another shape, a string with an escape or beyond ASCII, a bad
//! key or value, a duplicate, too many rows), which the general parser then reads again and
//! explains. Numbers follow JSON's grammar and are parsed by the standard library's correctly
//! rounded `f64` parser: the bits `serde_json` with `float_roundtrip` gives, integers included
//! (it converts a `u64` significand with `as f64`, which rounds correctly too, and negates it,
//! so `-0` is `-0.0` on both roads).

use crate::features::{N_FEATURES, Row, feature_index};

/// The rows of a body in one of the three forms, in the order the general parser gives
/// them; `None` when the body is not one with only valid rows (see the module documentation).
pub(super) fn parse(body: &[u8], max_rows: usize) -> Option<Vec<Row>> {
    parse_with(body, max_rows, PARALLEL_BYTES)
}

/// Bodies from this size up are read on two threads (see [`columns_in_two`] and
/// [`records_in_two`]): 700 KiB takes about a millisecond on one.
const PARALLEL_BYTES: usize = 256 << 10;

/// [`parse`], reading bodies of `parallel_bytes` or more on two threads when there are two
/// cores; the tests lower the threshold to try the split on small bodies.
fn parse_with(body: &[u8], max_rows: usize, parallel_bytes: usize) -> Option<Vec<Row>> {
    let mut s = Scan { b: body, i: 0 };
    s.ws();
    if body.len() >= parallel_bytes && crate::model::cores() >= 2 {
        let halves = match s.peek()? {
            b'{' => columns_in_two(body, max_rows),
            b'[' => records_in_two(body, max_rows),
            _ => None,
        };
        if halves.is_some() {
            return halves;
        }
    }
    let rows = match s.peek()? {
        b'{' => s.object(max_rows)?,
        b'[' => s.records(max_rows)?,
        _ => return None,
    };
    s.ws();
    (s.i == body.len()).then_some(rows)
}

/// The JSON number that starts exactly at `start` (no whitespace before it), converted as
/// [`parse`] converts numbers, and where it ends; `None` if there is none. For the CSV road.
pub(super) fn number_at(body: &[u8], start: usize) -> Option<(f64, usize)> {
    if !matches!(body.get(start)?, b'-' | b'0'..=b'9') {
        return None;
    }
    let mut s = Scan { b: body, i: start };
    let v = s.number()?;
    Some((v, s.i))
}

/// One feature's column: (row number, value) in the order written.
type Column = Vec<(u64, f64)>;

/// 10^0 to 10^22: every one exact in f64 (5^22 < 2^53).
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A cursor over the body. Every method returns `None` where the fast road ends.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// The next non-space byte, consumed if it is `c`.
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    /// A string of printable ASCII without escapes, the only kind names and row keys need.
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.i;
        loop {
            match self.peek()? {
                b'"' => break,
                0x20..=0x7e if self.b[self.i] != b'\\' => self.i += 1,
                _ => return None,
            }
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).ok()?;
        self.i += 1;
        Some(text)
    }

    /// A JSON number, as serde_json converts it to `f64` (see the module documentation).
    fn number(&mut self) -> Option<f64> {
        self.ws();
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        // The digits as one integer while they fit, for the exact fast path below.
        let mut mantissa: u64 = 0;
        let mut digits = 0u32;
        let mut fraction = 0i32;
        // int: "0" or a non-zero digit then digits.
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => digits += self.digits(&mut mantissa),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            let n = self.digits(&mut mantissa);
            if n == 0 {
                return None;
            }
            digits += n;
            fraction = i32::try_from(n).unwrap_or(i32::MAX);
        }
        let mut exponent = 0i32;
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            let sign = match self.peek() {
                Some(b'-') => -1,
                Some(b'+') => 1,
                _ => 0,
            };
            if sign != 0 {
                self.i += 1;
            }
            let mut e: u64 = 0;
            let n = self.digits(&mut e);
            // A long exponent goes the general way: the standard parser stops reading
            // exponent digits past 65,536 where serde_json reads them all, and `0.<655,360
            // zeros>1e655361` is 1.0 to serde_json but 0.0 to it.
            if n == 0 || n > 4 {
                return None;
            }
            exponent = i32::try_from(e).unwrap_or(0) * if sign < 0 { -1 } else { 1 };
        }
        // Clinger's fast path: an integer below 2^53 times or over a power of ten up to
        // 10^22, both exact in f64, is one correctly rounded operation, so it is exactly the
        // correctly rounded value of the text.
        let scale = exponent.saturating_sub(fraction);
        if digits <= 19 && mantissa <= 1 << 53 && (-22..=22).contains(&scale) {
            let m = mantissa as f64;
            let v = if scale >= 0 {
                m * POWERS_OF_TEN[scale as usize]
            } else {
                m / POWERS_OF_TEN[(-scale) as usize]
            };
            return Some(if negative { -v } else { v });
        }
        // Only ASCII digits, signs, dots and exponents were consumed: this is valid UTF-8.
        let text = std::str::from_utf8(&self.b[start..self.i]).ok()?;
        text.parse::<f64>().ok().filter(|v| v.is_finite())
    }

    /// Consumes ASCII digits, adding them to `value` (saturating); returns how many.
    fn digits(&mut self, value: &mut u64) -> u32 {
        let mut n = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            *value = value.saturating_mul(10).saturating_add(u64::from(d - b'0'));
            self.i += 1;
            n += 1;
        }
        n
    }

    /// `{` ... `}` with `entry` called after each key's colon, keys separated by commas.
    fn members(&mut self, mut entry: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            entry(self, key)?;
            if self.eat(b'}') {
                return Some(());
            }
            self.expect(b',')?;
        }
    }

    /// A top-level object: the six features, each once, each an object of rows (the column
    /// form) or each a number (a single record).
    fn object(&mut self, max_rows: usize) -> Option<Vec<Row>> {
        let mut columns: [Option<Column>; N_FEATURES] = Default::default();
        let mut numbers: [Option<f64>; N_FEATURES] = [None; N_FEATURES];
        let mut rows_hint = 0;
        self.members(|s, key| {
            let feature = feature_index(key)?;
            if columns[feature].is_some() || numbers[feature].is_some() {
                return None;
            }
            s.ws();
            if s.peek()? == b'{' {
                let column = s.column(max_rows, rows_hint)?;
                rows_hint = column.len();
                columns[feature] = Some(column);
            } else {
                numbers[feature] = Some(s.number()?);
            }
            Some(())
        })?;
        if numbers.iter().all(Option::is_none) {
            return rows(columns);
        }
        // A single record: a number for every feature and no column.
        if columns.iter().any(Option::is_some) || max_rows == 0 {
            return None;
        }
        Some(vec![row_of(numbers)?])
    }

    /// Members of the column form from here on, each a feature's name and its column: up to
    /// the object's closing brace, or, given `stop`, up to the comma just before it (`None`
    /// if they do not end exactly there). For [`columns_in_two`].
    fn column_members(
        &mut self,
        max_rows: usize,
        stop: Option<usize>,
    ) -> Option<Vec<(usize, Column)>> {
        let mut members = Vec::with_capacity(N_FEATURES);
        let mut rows_hint = 0;
        loop {
            let feature = feature_index(self.string()?)?;
            self.expect(b':')?;
            self.ws();
            if self.peek()? != b'{' || members.len() == N_FEATURES {
                return None;
            }
            let column = self.column(max_rows, rows_hint)?;
            rows_hint = column.len();
            members.push((feature, column));
            if self.after_element(stop, b'}')? {
                return Some(members);
            }
        }
    }

    /// One column: row keys (decimal integers, as pandas writes its index) to numbers. The
    /// hot loop of a batch, so written out rather than through `members`.
    fn column(&mut self, max_rows: usize, rows_hint: usize) -> Option<Vec<(u64, f64)>> {
        self.expect(b'{')?;
        let mut cells = Vec::with_capacity(rows_hint.min(max_rows));
        if self.eat(b'}') {
            return Some(cells);
        }
        loop {
            if cells.len() == max_rows {
                return None;
            }
            self.expect(b'"')?;
            let row = self.row_key()?;
            self.expect(b':')?;
            cells.push((row, self.number()?));
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(cells);
                }
                _ => return None,
            }
        }
    }

    /// The rest of a row key after its opening quote: ASCII digits that fit a `u64`, then
    /// the closing quote, as [`super::parse_row_key`] takes them.
    fn row_key(&mut self) -> Option<u64> {
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.i += 1;
        }
        if self.i == start || self.peek()? != b'"' {
            return None;
        }
        self.i += 1;
        Some(n)
    }

    /// A records array: objects of the six features, each a number, once.
    fn records(&mut self, max_rows: usize) -> Option<Vec<Row>> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Some(Vec::new());
        }
        self.record_list(max_rows, None)
    }

    /// Records from here on: up to the array's closing bracket, or, given `stop`, up to the
    /// comma just before it (`None` if they do not end exactly there). For
    /// [`records_in_two`].
    fn record_list(&mut self, max_rows: usize, stop: Option<usize>) -> Option<Vec<Row>> {
        let mut rows = Vec::new();
        loop {
            if rows.len() == max_rows {
                return None;
            }
            let mut values = [None; N_FEATURES];
            self.members(|s, key| {
                let feature = feature_index(key)?;
                values[feature].replace(s.number()?).is_none().then_some(())
            })?;
            rows.push(row_of(values)?);
            if self.after_element(stop, b']')? {
                return Some(rows);
            }
        }
    }

    /// What follows an element of a list read up to `stop` (see [`Scan::column_members`]
    /// and [`Scan::record_list`]): `true` when the list, or its half, is done there, `false`
    /// after the comma before another element. With `stop`, the comma must come and the half
    /// is done once the next element begins at `stop` (`None` if it begins past it); without,
    /// `close` ends the list.
    fn after_element(&mut self, stop: Option<usize>, close: u8) -> Option<bool> {
        match stop {
            Some(stop) => {
                self.expect(b',')?;
                self.ws();
                if self.i >= stop {
                    return (self.i == stop).then_some(true);
                }
                Some(false)
            }
            None => {
                if self.eat(close) {
                    return Some(true);
                }
                self.expect(b',')?;
                Some(false)
            }
        }
    }
}

/// The column form read in two halves at once. The body is split where a column ends and
/// the next feature's name begins (`},"`) after its middle; this thread reads the members
/// before the split, the helper thread (see [`crate::parallel`]) the members after it. The
/// halves count only if the first half's members end exactly at the split, so the second
/// half began at a member, as a reading from the start would have reached it: then the two
/// give what [`Scan::object`] gives. `None` for anything else (no split point, another form,
/// a bad half), and the body is read again on one thread.
fn columns_in_two(body: &[u8], max_rows: usize) -> Option<Vec<Row>> {
    let (first, second) = halves(body, b'{', b'"', |s, stop| s.column_members(max_rows, stop))?;
    let mut columns: [Option<Column>; N_FEATURES] = Default::default();
    for (feature, column) in first.into_iter().chain(second) {
        if columns[feature].replace(column).is_some() {
            return None;
        }
    }
    rows(columns)
}

/// A records array read in two halves at once, as [`columns_in_two`] reads the column form:
/// split where a record ends and the next begins (`},{`) after the middle, and used only if
/// the first half's records end exactly at the split. The halves' rows, one after the
/// other, are then what [`Scan::records`] gives; `None` for anything else.
fn records_in_two(body: &[u8], max_rows: usize) -> Option<Vec<Row>> {
    let (mut rows, second) = halves(body, b'[', b'{', |s, stop| s.record_list(max_rows, stop))?;
    if rows.len() + second.len() > max_rows {
        return None;
    }
    rows.extend(second);
    Some(rows)
}

/// Both halves of a list that opens with `open`, split before a `next` after the middle
/// (see [`split_point`]): `read` takes the first half from just inside `open` up to the
/// split on this thread, and the second from the split to the list's end on the helper
/// thread, after which only whitespace may follow.
fn halves<'a, T: Send>(
    body: &'a [u8],
    open: u8,
    next: u8,
    read: impl Fn(&mut Scan<'a>, Option<usize>) -> Option<T> + Sync,
) -> Option<(T, T)> {
    let split = split_point(body, next)?;
    let (first, second) = crate::parallel::join(
        || {
            let mut s = Scan { b: body, i: 0 };
            s.expect(open).and_then(|()| read(&mut s, Some(split)))
        },
        || {
            let mut s = Scan { b: body, i: split };
            let half = read(&mut s, None)?;
            s.ws();
            (s.i == body.len()).then_some(half)
        },
    );
    Some((first?, second?))
}

/// Where, after the middle, the next member or record may begin after an object: the
/// `next` (`"` or `{`) of `}`, `,`, `next` (whitespace allowed between them, as Python's
/// `json.dumps` writes `}, "`).
fn split_point(body: &[u8], next: u8) -> Option<usize> {
    let space = |b: &u8| b" \t\n\r".contains(b);
    let skip = |mut j: usize| {
        while body.get(j).is_some_and(space) {
            j += 1;
        }
        j
    };
    let mut i = body.len() / 2;
    while let Some(n) = body.get(i..)?.iter().position(|&c| c == b'}') {
        let comma = skip(i + n + 1);
        if body.get(comma) == Some(&b',') {
            let quote = skip(comma + 1);
            if body.get(quote) == Some(&next) {
                return Some(quote);
            }
        }
        i += n + 1;
    }
    None
}

/// Sorts each column by row number and lines them up: every feature must have a column, and
/// every column must hold the same row numbers, each once.
fn rows(columns: [Option<Column>; N_FEATURES]) -> Option<Vec<Row>> {
    if columns.iter().any(Option::is_none) {
        return None;
    }
    let mut columns = columns.map(Option::unwrap_or_default);
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

/// The row of six values, each given once and valid.
fn row_of(values: [Option<f64>; N_FEATURES]) -> Option<Row> {
    let mut all = [0.0; N_FEATURES];
    for (slot, value) in all.iter_mut().zip(values) {
        *slot = value?;
    }
    Row::new(all).ok()
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
        // The same body read in two halves, whatever its size: the same answer or none.
        for halves in [columns_in_two, records_in_two] {
            if let Some(split) = halves(body.as_bytes(), max_rows) {
                assert_eq!(Some(&split), general(body, max_rows).as_ref(), "{body}");
                assert_eq!(Some(&split), fast.as_ref(), "{body}");
            }
        }
        assert_eq!(parse_with(body.as_bytes(), max_rows, 0), fast, "{body}");
    }

    const ORIGINAL: &str = r#"{"CHAS":{"0":0},"RM":{"0":6.575},"TAX":{"0":296.0},"PTRATIO":{"0":15.3},"B":{"0":396.9},"LSTAT":{"0":4.98}}"#;

    /// A column-form body of `rows` rows, the columns in the given order.
    fn columns_body(rows: usize, order: [usize; N_FEATURES]) -> String {
        let names = ["CHAS", "RM", "TAX", "PTRATIO", "B", "LSTAT"];
        let columns: Vec<String> = order
            .iter()
            .map(|&f| {
                let cells: Vec<String> = (0..rows)
                    .map(|r| {
                        let v = if f == 0 {
                            (r % 2) as f64
                        } else {
                            1.0 + (r * 7 + f) as f64 / 13.0
                        };
                        format!("\"{r}\":{v}")
                    })
                    .collect();
                format!("\"{}\":{{{}}}", names[f], cells.join(","))
            })
            .collect();
        format!("{{{}}}", columns.join(","))
    }

    #[test]
    fn a_large_column_body_is_read_in_two_halves_to_the_same_rows() {
        for order in [[0, 1, 2, 3, 4, 5], [5, 3, 1, 0, 2, 4]] {
            let body = columns_body(5_000, order);
            assert!(body.len() >= PARALLEL_BYTES, "{}", body.len());
            let split = columns_in_two(body.as_bytes(), 10_000).expect("the body splits");
            assert_eq!(split.len(), 5_000);
            assert_eq!(Some(&split), general(&body, 10_000).as_ref());
            assert_eq!(parse(body.as_bytes(), 10_000), Some(split));
        }
        // What a split cannot take is read on one thread, or by the general parser, the same.
        let body = columns_body(5_000, [0, 1, 2, 3, 4, 5]);
        let twice = body.replacen("\"LSTAT\"", "\"CHAS\"", 1);
        let spaced = body.replace("},\"", "}, \"");
        let short = body.replacen("\"4999\":", "\"5000\":", 1);
        for body in [&twice, &spaced, &short, &body] {
            check(body, 10_000);
            check(body, 4_999);
        }
        assert!(columns_in_two(twice.as_bytes(), 10_000).is_none());
        // Python's `json.dumps` spacing splits too.
        assert!(columns_in_two(spaced.as_bytes(), 10_000).is_some());
        let nested = body.replacen("\"4999\":", "\"4999\":{},\"x\":", 1);
        check(&nested, 10_000);
        assert!(columns_in_two(nested.as_bytes(), 10_000).is_none());
    }

    /// A records body of `rows` rows, with the given text between records.
    fn records_body(rows: usize, between: &str) -> String {
        let records: Vec<String> = (0..rows)
            .map(|r| {
                let v = |f: usize| 1.0 + (r * 7 + f) as f64 / 13.0;
                format!(
                    r#"{{"CHAS":{},"RM":{},"TAX":{},"PTRATIO":{},"B":{},"LSTAT":{}}}"#,
                    r % 2,
                    v(1),
                    v(2),
                    v(3),
                    v(4),
                    v(5)
                )
            })
            .collect();
        format!("[{}]", records.join(between))
    }

    #[test]
    fn a_large_records_body_is_read_in_two_halves_to_the_same_rows() {
        for between in [",", ", ", " ,\n "] {
            let body = records_body(5_000, between);
            assert!(body.len() >= PARALLEL_BYTES, "{}", body.len());
            let split = records_in_two(body.as_bytes(), 10_000).expect("the body splits");
            assert_eq!(split.len(), 5_000);
            assert_eq!(Some(&split), general(&body, 10_000).as_ref());
            assert_eq!(parse(body.as_bytes(), 10_000), Some(split));
        }
        // Too many rows in all, though each half is under the limit: refused either way.
        let body = records_body(5_000, ",");
        assert!(records_in_two(body.as_bytes(), 4_999).is_none());
        assert!(parse(body.as_bytes(), 4_999).is_none());
        // What a split cannot take is read on one thread, or by the general parser, the same.
        let nested = body.replacen(r#""CHAS":1,"#, r#""CHAS":1,"x":[{}],"#, 2_500);
        let broken = body.replacen("},{", "},,{", 1).replacen("},{", "}{", 3_000);
        let column_inside = format!(r#"{{"CHAS":{body}}}"#);
        for body in [&body, &nested, &broken, &column_inside] {
            check(body, 10_000);
            check(body, 5_000);
            check(body, 4_999);
        }
        assert!(records_in_two(nested.as_bytes(), 10_000).is_none());
        assert!(records_in_two(broken.as_bytes(), 10_000).is_none());
    }

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
            &ORIGINAL.replace(r#""RM":{"0""#, r#""RM":{"""#),
            &ORIGINAL.replace(r#""RM":{"0""#, r#""RM":{"0 ""#),
            &ORIGINAL.replace(r#"{"0""#, r#"{"18446744073709551616""#),
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
        let mut rng = crate::test_rng::Rng(0x9E37_79B9_7F4A_7C15);
        let mut next = move |n: usize| rng.below(n);
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
    fn numbers_are_the_bits_of_the_correctly_rounded_parse() {
        // Random decimals on and off Clinger's fast path: 1 to 22 digits, a point anywhere,
        // exponents to ±40, both signs; each must be exactly what `str::parse` gives.
        let mut rng = crate::test_rng::Rng(0x2545_F491_4F6C_DD1D);
        let mut next = move |n: u64| rng.next_u64() % n;
        for _ in 0..200_000 {
            let digits: String = (0..1 + next(22))
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            let digits = digits.trim_start_matches('0');
            let digits = if digits.is_empty() { "0" } else { digits };
            let mut text = String::new();
            if next(2) == 0 {
                text.push('-');
            }
            let point = next(digits.len() as u64 + 1) as usize;
            if point == 0 || point == digits.len() {
                text.push_str(digits);
            } else {
                text.push_str(&digits[..point]);
                text.push('.');
                text.push_str(&digits[point..]);
            }
            let long_exponent = next(50) == 0;
            if long_exponent {
                text.push_str(&format!("e-{:0>6}", next(400)));
            } else if next(3) == 0 {
                text.push_str(&format!("e{}", next(81) as i64 - 40));
            }
            let mut scan = Scan {
                b: text.as_bytes(),
                i: 0,
            };
            let ours = scan.number();
            if long_exponent {
                assert_eq!(ours, None, "{text}");
                continue;
            }
            assert_eq!(scan.i, text.len(), "{text}");
            let std = text.parse::<f64>().unwrap();
            let serde: f64 = serde_json::from_str(&text).unwrap();
            assert_eq!(ours.map(f64::to_bits), Some(std.to_bits()), "{text}");
            assert_eq!(std.to_bits(), serde.to_bits(), "{text}");
        }
    }

    #[test]
    fn a_long_exponent_is_left_to_serde_json_which_reads_all_of_it() {
        // The standard parser stops reading exponent digits at 65,536; serde_json does not.
        let chas = format!("0.{}1e655361", "0".repeat(655_360));
        let body = RECORD.replace(r#""CHAS":0"#, &format!(r#""CHAS":{chas}"#));
        assert_eq!(parse(body.as_bytes(), 10), None);
        let rows = general(&body, 10).expect("serde_json reads it as 1");
        assert_eq!(rows[0].values()[0], 1.0);
        // An exponent beyond i32 cannot overflow anything on the way out.
        assert_eq!(
            parse(ORIGINAL.replace("6.575", "1.25e-2147483647").as_bytes(), 10),
            None
        );
    }

    #[test]
    fn every_number_form_agrees_with_the_general_parser_and_escapes_leave_the_road() {
        for body in [
            ORIGINAL.replace("6.575", "6575e-3"),
            ORIGINAL.replace("6.575", "0.6575E+1"),
            ORIGINAL.replace("296.0", "296"),
            ORIGINAL.replace("15.3", "-0.0"),
            ORIGINAL.replace("15.3", "-0"),
            ORIGINAL.replace("396.9", "18446744073709551615"),
            ORIGINAL.replace("396.9", "18446744073709551616"),
            ORIGINAL.replace("396.9", "-9223372036854775808"),
            ORIGINAL.replace("396.9", "-9223372036854775809"),
            ORIGINAL.replace("396.9", "123456789012345678901234567890"),
            ORIGINAL.replace("4.98", "4.9800000000000000000000000001"),
            ORIGINAL.replace("4.98", "2.2250738585072011e-308"),
            ORIGINAL.replace("4.98", "5e-324"),
            ORIGINAL.replace("4.98", "1e-400"),
            ORIGINAL.replace(",", " ,\n\t").replace(":", "\r: "),
        ] {
            let fast = parse(body.as_bytes(), 10);
            assert!(fast.is_some(), "{body}");
            assert_eq!(fast, general(&body, 10), "{body}");
        }
        // Escapes and text beyond ASCII go the general way (which takes them).
        for body in [
            ORIGINAL.replace("\"RM\"", r#""R\u004d""#),
            ORIGINAL.replace(r#""RM":{"0""#, r#""RM":{"\u0030""#),
        ] {
            assert_eq!(parse(body.as_bytes(), 10), None, "{body}");
            assert!(general(&body, 10).is_some(), "{body}");
        }
    }
}
