//! CSV that is plainly right, in one pass over its bytes: a header naming the six features
//! once each, then lines of six JSON-grammar numbers, no quotes, no spaces, no blank lines.
//! Each line is kept as a span of the body, so the answer echoes it without copying records.
//!
//! Like the JSON road ([`super::fast`]), it answers `Some` only when the general reader
//! ([`super::CsvRows`], the `csv` crate and `str::parse`) would give exactly these rows and
//! the answer exactly these bytes; for anything else (a byte order mark, quotes, spaces, a
//! lone `\r`, an empty line, a line over 64 KiB, a bad or out-of-range value, too many rows)
//! it answers `None` and the general reader reads the body again and explains. Numbers are
//! JSON's grammar, which `str::parse` reads to the same correctly rounded `f64`; the `csv`
//! writer quotes no field made of digits, signs, dots and exponents, so echoing the line is
//! what it writes.

use super::MAX_CSV_ROW_BYTES;
use crate::features::{N_FEATURES, Row, feature_index};

/// Where a line starts and ends in the body, its terminator left out.
type Span = (usize, usize);

/// Where the header line and each data line are in the body.
#[derive(Debug, PartialEq)]
pub(super) struct Spans {
    pub(super) header: Span,
    pub(super) lines: Vec<Span>,
}

/// The rows of a plain CSV body and where its lines are; `None` when the body is not
/// plainly right (see the module documentation).
pub(super) fn parse(body: &[u8], max_rows: usize) -> Option<(Vec<Row>, Spans)> {
    parse_with(body, max_rows, PARALLEL_BYTES)
}

/// Bodies from this size up are read in two halves on two threads: 128 KiB is about 3,700
/// lines, half a millisecond on one.
const PARALLEL_BYTES: usize = 128 << 10;

/// [`parse`], reading bodies of `parallel_bytes` or more in two halves when there are two
/// cores: split just after the first line break past the middle, so each half is whole
/// lines, the same lines one reading from the start finds. The tests lower the threshold to
/// split small bodies.
fn parse_with(body: &[u8], max_rows: usize, parallel_bytes: usize) -> Option<(Vec<Row>, Spans)> {
    let mut lines = Lines { b: body, i: 0 };
    let header = lines.next()?;
    let position = columns(&body[header.0..header.1])?;
    let split = (body.len() >= parallel_bytes && crate::model::cores() >= 2)
        .then(|| body[body.len() / 2..].iter().position(|&c| c == b'\n'))
        .flatten()
        .map(|n| body.len() / 2 + n + 1)
        .filter(|&split| split > lines.i && split < body.len());
    let (rows, lines) = match split {
        None => data_lines(body, lines.i, max_rows, &position)?,
        Some(split) => {
            let (first, second) = crate::parallel::join(
                || data_lines(&body[..split], lines.i, max_rows, &position),
                || data_lines(body, split, max_rows, &position),
            );
            let ((mut rows, mut spans), (more_rows, more_spans)) = (first?, second?);
            if rows.len() + more_rows.len() > max_rows {
                return None;
            }
            rows.extend(more_rows);
            spans.extend(more_spans);
            (rows, spans)
        }
    };
    Some((rows, Spans { header, lines }))
}

/// The data lines of `body` from `from` (the start of a line) to its end: each line's row
/// and span.
fn data_lines(
    body: &[u8],
    from: usize,
    max_rows: usize,
    position: &[usize; N_FEATURES],
) -> Option<(Vec<Row>, Vec<Span>)> {
    let mut lines = Lines { b: body, i: from };
    // Pre-size from the first line's length: a guess that saves regrowing the vectors.
    let mut spans = Vec::new();
    let mut rows = Vec::new();
    while let Some((start, end)) = lines.next() {
        // A line over the general reader's bound is its to refuse (`MAX_CSV_ROW_BYTES`).
        if rows.len() == max_rows || start == end || end - start > MAX_CSV_ROW_BYTES as usize {
            return None;
        }
        if rows.is_empty() {
            let guess = ((body.len() - start) / (end - start + 1)).min(max_rows);
            spans.reserve(guess);
            rows.reserve(guess);
        }
        rows.push(row(body, start, end, position)?);
        spans.push((start, end));
    }
    Some((rows, spans))
}

/// Splits the body at `\n`, a `\r` before it dropped, as the `csv` crate reads lines.
struct Lines<'a> {
    b: &'a [u8],
    i: usize,
}

impl Lines<'_> {
    /// The next line's span, or `None` at the end of the body.
    fn next(&mut self) -> Option<(usize, usize)> {
        if self.i >= self.b.len() {
            return None;
        }
        let start = self.i;
        let end = match self.b[start..].iter().position(|&c| c == b'\n') {
            Some(n) => {
                self.i = start + n + 1;
                start + n
            }
            None => {
                self.i = self.b.len();
                self.b.len()
            }
        };
        let end = if end > start && self.b[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        Some((start, end))
    }
}

/// Which feature each of the header's six columns is; `None` unless every name is exactly a
/// feature's, each once.
fn columns(header: &[u8]) -> Option<[usize; N_FEATURES]> {
    let mut position = [usize::MAX; N_FEATURES];
    let mut seen = [false; N_FEATURES];
    let mut names = header.split(|&c| c == b',');
    for slot in &mut position {
        let name = std::str::from_utf8(names.next()?).ok()?;
        let feature = feature_index(name)?;
        if std::mem::replace(&mut seen[feature], true) {
            return None;
        }
        *slot = feature;
    }
    names.next().is_none().then_some(position)
}

/// One data line: six numbers separated by commas and nothing else, valid for the model.
fn row(body: &[u8], start: usize, end: usize, position: &[usize; N_FEATURES]) -> Option<Row> {
    let line = &body[..end];
    let mut values = [0.0; N_FEATURES];
    let mut i = start;
    for (n, &feature) in position.iter().enumerate() {
        if n > 0 {
            if line.get(i) != Some(&b',') {
                return None;
            }
            i += 1;
        }
        let (v, next) = super::fast::number_at(line, i)?;
        values[feature] = v;
        i = next;
    }
    (i == end).then(|| Row::new(values).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{InputError, parse_csv, parse_csv_generally};
    use crate::test_rng::Rng;

    /// What each road answers: the rows' bits and the answer's bytes, or the error.
    fn answer(
        table: Result<crate::input::CsvTable<'_>, InputError>,
    ) -> Result<(Vec<[u64; N_FEATURES]>, Vec<u8>), String> {
        let table = table.map_err(|e| format!("{}: {e}", e.code()))?;
        let bits = table
            .rows()
            .iter()
            .map(|r| r.values().map(f64::to_bits))
            .collect();
        // Predictions stand in as the row's first value plus its index: any value will do.
        let predictions: Vec<f64> = table
            .rows()
            .iter()
            .enumerate()
            .map(|(i, r)| r.values()[1] * 3.7 + i as f64)
            .collect();
        Ok((bits, table.render_with_predictions(&predictions)))
    }

    /// Both roads give the same answer; returns whether the fast road took the body.
    fn check(body: &[u8], max_rows: usize) -> bool {
        let fast = parse(body, max_rows);
        let took = fast.is_some();
        // The same body read in two halves, whatever its size: the same rows and lines.
        assert_eq!(
            parse_with(body, max_rows, 0),
            fast,
            "{}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(
            answer(parse_csv(body, max_rows)),
            answer(parse_csv_generally(body, max_rows)),
            "{}",
            String::from_utf8_lossy(body)
        );
        took
    }

    const NAMES: [&str; N_FEATURES] = ["CHAS", "RM", "TAX", "PTRATIO", "B", "LSTAT"];

    /// A valid body: the columns in a shuffled order, `rows` rows of values written in every
    /// way JSON's grammar allows, `\n` or `\r\n`, with or without a last terminator.
    fn plain_body(rng: &mut Rng, rows: usize) -> Vec<u8> {
        let mut order: Vec<usize> = (0..N_FEATURES).collect();
        for i in (1..N_FEATURES).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let newline = if rng.below(2) == 0 { "\n" } else { "\r\n" };
        let mut text = order
            .iter()
            .map(|&f| NAMES[f])
            .collect::<Vec<_>>()
            .join(",");
        let values = [
            "6.575",
            "296",
            "296.0",
            "15.3",
            "396.90000000000003",
            "4.98",
            "1e2",
            "2.5E-1",
            "0.000001",
            "3.14159265358979323846264338327950288",
            "123456789012345678901234567890",
            "7.0e+0",
            "0",
            "0.0",
        ];
        for _ in 0..rows {
            text.push_str(newline);
            let cells: Vec<&str> = order
                .iter()
                .map(|&f| match f {
                    0 => ["0", "1", "0.0", "1.0", "1e0"][rng.below(5)],
                    _ => values[rng.below(values.len())],
                })
                .collect();
            text.push_str(&cells.join(","));
        }
        if rng.below(3) > 0 {
            text.push_str(newline);
        }
        text.into_bytes()
    }

    #[test]
    fn plain_bodies_take_the_fast_road_to_the_same_rows_and_answer() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        for rows in [0, 1, 2, 3, 10, 200] {
            for _ in 0..50 {
                assert!(check(&plain_body(&mut rng, rows), 1000));
            }
        }
        let original = b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6.575,296,15.3,396.9,4.98\n";
        assert!(check(original, 10));
    }

    #[test]
    fn a_large_body_is_read_in_two_halves_to_the_same_rows_and_answer() {
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        for _ in 0..4 {
            let body = plain_body(&mut rng, 5_000);
            assert!(body.len() >= PARALLEL_BYTES, "{}", body.len());
            let (rows, _) = parse(&body, 10_000).expect("a plain body takes the fast road");
            assert_eq!(rows.len(), 5_000);
            assert!(check(&body, 10_000));
            // Each half holds fewer than the limit, both together more.
            assert!(parse(&body, 4_999).is_none());
            assert!(!check(&body, 4_999));
        }
        // A bad line in the second half, a blank line just after the split or a seventh field
        // on the line before it sends the whole body to the general reader, as one reading
        // would.
        let body = plain_body(&mut rng, 5_000);
        let middle = body.len() / 2
            + body[body.len() / 2..]
                .iter()
                .position(|&c| c == b'\n')
                .unwrap();
        for (at, insert) in [
            (body.len() * 3 / 4, &b"x"[..]),
            (middle + 1, b"\n"),
            (middle, b","),
        ] {
            let mut bad = body.clone();
            bad.splice(at..at, insert.iter().copied());
            assert!(!check(&bad, 10_000));
        }
    }

    #[test]
    fn what_only_the_general_reader_can_answer_goes_its_way() {
        for body in [
            &b""[..],
            b"\xEF\xBB\xBFCHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6,1,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0, 6,1,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,\"6\",1,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6,1,1,1,1\n\n0,6,1,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6,1,1,1,1\r0,6,1,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6.,1,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,+6,1,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,06,1,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,1e400,1,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n2,6,1,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6,1,1,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,B\n0,6,1,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B\n0,6,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT,X\n0,6,1,1,1,1,1\n",
            b"CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6,1,1,1,1\n0,6,1,1,1,1\n0,6,1,1,1,1\n",
        ] {
            assert!(!check(body, 2), "{}", String::from_utf8_lossy(body));
        }
        // A number of 200,000 digits makes a line the general reader refuses as too long.
        let long = format!(
            "CHAS,RM,TAX,PTRATIO,B,LSTAT\n0,6.{},296,15.3,396.9,4.98\n",
            "0".repeat(200_000)
        );
        assert!(!check(long.as_bytes(), 2));
        assert_eq!(
            parse_csv(long.as_bytes(), 2).unwrap_err().code(),
            "malformed_csv"
        );
    }

    #[test]
    fn mutated_bodies_never_take_the_fast_road_to_another_answer() {
        // Valid bodies with bytes replaced, deleted or doubled, from an alphabet of what CSV
        // and numbers are made of. Wherever the fast road answers, the general reader must
        // give the same rows and answer; everywhere, `parse_csv` answers as the general one.
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let alphabet = b"0123456789.,-+eE \t\r\n\"x\xEF\xBB\xBFCRMTAXB";
        let mut fast_answers = 0;
        for _ in 0..20_000 {
            let rows = rng.below(4);
            let mut body = plain_body(&mut rng, rows);
            for _ in 0..=rng.below(3) {
                if body.is_empty() {
                    break;
                }
                let at = rng.below(body.len());
                match rng.below(3) {
                    0 => body[at] = alphabet[rng.below(alphabet.len())],
                    1 => {
                        body.remove(at);
                    }
                    _ => body.insert(at, body[at]),
                }
            }
            if check(&body, 3) {
                fast_answers += 1;
            }
        }
        // The fuzzer reaches both roads.
        assert!(
            (2_000..18_000).contains(&fast_answers),
            "{fast_answers} fast answers"
        );
    }
}
