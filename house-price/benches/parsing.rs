//! A 10,000-row `POST /predict` body in each accepted form, parsed into rows and then through
//! the whole `api::predict` (parse, score, render): where a batch request's time goes.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use house_price::Model;
use house_price::api::{self, Limits};

const ROWS: usize = 10_000;

/// Row `i` of a deterministic spread over the data's ranges, as text with the data's
/// precision (as in `6.575,296.0,15.3,396.9,4.98`): 10,000 rows of pandas JSON are about
/// 700 KiB, like the original client's 10,000-row request.
fn row(i: usize) -> [String; 6] {
    let f = (i % 97) as f64 / 97.0;
    [
        format!("{}", i % 2),
        format!("{:.3}", 3.5 + 5.2 * f),
        format!("{:.1}", 187.0 + 524.0 * f),
        format!("{:.1}", 12.6 + 9.4 * (1.0 - f)),
        format!("{:.2}", 0.32 + 396.6 * f),
        format!("{:.2}", 1.73 + 36.24 * (1.0 - f)),
    ]
}

const NAMES: [&str; 6] = ["CHAS", "RM", "TAX", "PTRATIO", "B", "LSTAT"];

/// pandas `to_json()`: `{"CHAS":{"0":0,...},...}`, the original client's form.
fn pandas() -> Vec<u8> {
    let rows: Vec<[String; 6]> = (0..ROWS).map(row).collect();
    let columns: Vec<String> = NAMES
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let cells: Vec<String> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| format!("\"{i}\":{}", r[c]))
                .collect();
            format!("\"{name}\":{{{}}}", cells.join(","))
        })
        .collect();
    format!("{{{}}}", columns.join(",")).into_bytes()
}

/// A records array: `[{"CHAS":0,"RM":6.575,...},...]`.
fn records() -> Vec<u8> {
    let records: Vec<String> = (0..ROWS)
        .map(|i| {
            let r = row(i);
            let fields: Vec<String> = NAMES
                .iter()
                .zip(&r)
                .map(|(n, v)| format!("\"{n}\":{v}"))
                .collect();
            format!("{{{}}}", fields.join(","))
        })
        .collect();
    format!("[{}]", records.join(",")).into_bytes()
}

/// CSV with a header row.
fn csv() -> Vec<u8> {
    let mut text = NAMES.join(",");
    text.push('\n');
    for i in 0..ROWS {
        text.push_str(&row(i).join(","));
        text.push('\n');
    }
    text.into_bytes()
}

fn parsing(c: &mut Criterion) {
    let model = Model::embedded().expect("the embedded model loads");
    let limits = Limits::default();
    let forms = [
        ("pandas_json", "application/json", pandas()),
        ("records_json", "application/json", records()),
        ("csv", "text/csv", csv()),
    ];
    let mut group = c.benchmark_group("10000_rows");
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, content_type, body) in &forms {
        let rows = api::parse_rows(&limits, Some(content_type), body).expect("the body parses");
        assert_eq!(rows.len(), ROWS);
        eprintln!("{name}: {} KiB", body.len() / 1024);
        group.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| api::parse_rows(&limits, Some(content_type), black_box(body)))
        });
        group.bench_function(format!("predict/{name}"), |b| {
            b.iter(|| api::predict(&model, &limits, Some(content_type), black_box(body)))
        });
    }
    group.finish();
}

criterion_group!(benches, parsing);
criterion_main!(benches);
