//! Scoring a CSV file of any size as a stream: rows are read, priced a batch at a time and
//! written with a `prediction` column, so memory stays a batch whatever the file holds.
//! The output is the dialect `POST /predict` answers CSV in ([`crate::input::CsvTable`]).

use std::io::{Read, Write};

use crate::input::{CsvRows, InputError};
use crate::{Model, Row};

/// Rows priced together: big enough for the batch path of the model, small enough to be
/// nothing next to the 128 MB a function instance may use.
pub const BATCH_ROWS: usize = 4096;
/// A batch is also priced once its rows hold this much text (rows may be long, up to
/// [`crate::input::MAX_CSV_ROW_BYTES`]).
pub const BATCH_BYTES: usize = 4 << 20;

/// Why a file could not be scored.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// The file is not a valid batch; the error names the line and column.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The output could not be written (or the input read).
    #[error("{0}")]
    Io(String),
}

/// Scores every row of `input` into `output`; the number of rows scored. On an error part of
/// the output may have been written: the caller must not publish it.
pub fn score_csv<R: Read, W: Write>(
    model: &Model,
    mut input: R,
    mut output: W,
) -> Result<u64, ScoreError> {
    score(model, &mut input, &mut output)
}

/// One instance of the loop, compiled here (where the dev profile optimises it) whatever
/// reader and writer the caller has.
fn score(model: &Model, input: &mut dyn Read, output: &mut dyn Write) -> Result<u64, ScoreError> {
    // Read by the rule every body is read by: a mark skipped, UTF-16 and UTF-32 decoded.
    let mut rows = CsvRows::new(crate::input::text_stream(input)?)?;
    let mut writer = csv::Writer::from_writer(output);
    let mut header = rows.header().clone();
    header.push_field("prediction");
    writer.write_record(&header).map_err(io)?;
    let mut records: Vec<csv::StringRecord> = Vec::with_capacity(BATCH_ROWS);
    let mut batch: Vec<Row> = Vec::with_capacity(BATCH_ROWS);
    let mut total = 0u64;
    let mut batch_bytes = 0usize;
    loop {
        let next = rows.next_row_ref();
        let done = next.is_none();
        if let Some(next) = next {
            let (record, row) = next?;
            // The record buffers are reused from batch to batch.
            match records.get_mut(batch.len()) {
                Some(slot) => slot.clone_from(record),
                None => records.push(record.clone()),
            }
            batch.push(row);
            batch_bytes += record.as_slice().len();
        }
        let full = batch.len() == BATCH_ROWS || batch_bytes >= BATCH_BYTES;
        if full || (done && !batch.is_empty()) {
            let predictions = model.predict_all(&batch);
            for (record, p) in records.iter_mut().zip(&predictions) {
                record.push_field(&p.to_string());
                writer.write_record(&*record).map_err(io)?;
            }
            total += batch.len() as u64;
            batch.clear();
            batch_bytes = 0;
        }
        if done {
            break;
        }
    }
    writer.flush().map_err(|e| ScoreError::Io(e.to_string()))?;
    Ok(total)
}

fn io(e: csv::Error) -> ScoreError {
    ScoreError::Io(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::parse_csv;

    fn model() -> Model {
        Model::embedded().unwrap()
    }

    fn csv(rows: usize) -> String {
        let mut text = String::from("LSTAT,CHAS,RM,TAX,PTRATIO,B\n");
        for i in 0..rows {
            text.push_str(&format!("{},{},6.{i},296,15.3,396.9\n", 4 + i % 20, i % 2));
        }
        text
    }

    #[test]
    fn a_stream_gives_what_predict_answers_for_the_same_csv() {
        let model = model();
        // More than a batch, and not a whole number of batches.
        let text = csv(BATCH_ROWS * 2 + 17);
        let mut streamed = Vec::new();
        let rows = score_csv(&model, text.as_bytes(), &mut streamed).unwrap();
        assert_eq!(rows, (BATCH_ROWS * 2 + 17) as u64);
        let table = parse_csv(text.as_bytes(), usize::MAX).unwrap();
        let expected = table.render_with_predictions(&model.predict_all(table.rows()));
        assert_eq!(streamed, expected);
    }

    #[test]
    fn a_byte_order_mark_and_a_header_only_file_are_fine() {
        let mut out = Vec::new();
        let text = format!("\u{feff}{}", csv(0));
        assert_eq!(score_csv(&model(), text.as_bytes(), &mut out).unwrap(), 0);
        assert_eq!(out, b"LSTAT,CHAS,RM,TAX,PTRATIO,B,prediction\n");
    }

    #[test]
    fn a_line_without_end_is_refused_without_reading_it_all() {
        // An unclosed quote would make the rest of the file one record.
        let mut text = csv(3);
        text.push_str("\"0");
        text.push_str(&"1".repeat(50 << 20));
        let mut read = 0usize;
        let counting = CountingReader {
            inner: text.as_bytes(),
            read: &mut read,
        };
        let err = score_csv(&model(), counting, Vec::new()).unwrap_err();
        assert!(err.to_string().contains("longer than 64 KiB"), "{err}");
        assert!(read < 1 << 20, "{read} bytes read for one bad line");
        // Spaces around a number are allowed, but not a megabyte of them.
        let spaced = csv(1).replace(",296,", &format!(",296{},", " ".repeat(1 << 20)));
        let err = score_csv(&model(), spaced.as_bytes(), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("longer than 64 KiB"), "{err}");
    }

    struct CountingReader<'a> {
        inner: &'a [u8],
        read: &'a mut usize,
    }

    impl Read for CountingReader<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            *self.read += n;
            Ok(n)
        }
    }

    #[test]
    fn an_error_names_the_line_and_column() {
        let text = csv(5).replace("6.3,296", "six,296");
        let err = score_csv(&model(), text.as_bytes(), Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 5, column \"RM\": \"six\" is not a number"
        );
    }
}
