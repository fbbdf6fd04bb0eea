//! Any bytes as a CSV `POST /predict` body: an answer or an `ApiError`, never a panic, and
//! the CSV answer has a header and one line per row when it succeeds.
#![no_main]

use house_price::api::{self, Limits};
use libfuzzer_sys::fuzz_target;

mod model;
use model::model;

fuzz_target!(|body: &[u8]| {
    let limits = Limits::default();
    match api::predict(model(), &limits, Some("text/csv"), body) {
        Ok(reply) => {
            let rows = api::parse_rows(&limits, Some("text/csv"), body).expect("it parsed once");
            let text = String::from_utf8(reply.body).expect("the answer is UTF-8");
            assert_eq!(csv_lines(&text), rows.len() + 1, "{text:?}");
        }
        Err(e) => assert!(e.status() >= 400 && e.status() < 500, "{e:?}"),
    }
});

/// The records of a CSV text, the header included (fields may hold quoted newlines).
fn csv_lines(text: &str) -> usize {
    let mut quoted = false;
    let mut records = 0;
    let mut at_start = true;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => {
                records += 1;
                at_start = true;
                continue;
            }
            _ => {}
        }
        at_start = false;
    }
    records + usize::from(!at_start)
}
