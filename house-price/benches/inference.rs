//! Inference speed: one row (the `/predict` hot path) and a 10,000-row batch.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use house_price::{Model, Row};

fn rows(n: usize) -> Vec<Row> {
    // Deterministic spread over the data's ranges so every branch of the trees is taken.
    (0..n)
        .map(|i| {
            let f = (i % 97) as f64 / 97.0;
            Row::new([
                (i % 2) as f64,
                3.5 + 5.2 * f,
                187.0 + 524.0 * f,
                12.6 + 9.4 * (1.0 - f),
                0.32 + 396.6 * f,
                1.73 + 36.24 * (1.0 - f),
            ])
            .expect("generated rows are valid")
        })
        .collect()
}

fn inference(c: &mut Criterion) {
    let model = Model::embedded().expect("the embedded model loads");
    let one = rows(1)[0];
    c.bench_function("predict_one_row", |b| {
        b.iter(|| model.predict(black_box(&one)))
    });

    let batch = rows(10_000);
    let mut out = Vec::with_capacity(batch.len());
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Elements(batch.len() as u64));
    // Both cores: a batch this large is split over two threads.
    group.bench_function("predict_10000_rows", |b| {
        b.iter(|| {
            model.predict_into(black_box(&batch), &mut out);
            black_box(out.len())
        })
    });
    // One core: the same rows in pieces below the size that is split.
    let piece = house_price::model::PARALLEL_ROWS - 1;
    group.bench_function("predict_10000_rows_one_core", |b| {
        b.iter(|| {
            for rows in black_box(&batch).chunks(piece) {
                model.predict_into(rows, &mut out);
                black_box(out.len());
            }
        })
    });
    group.finish();

    let body = br#"{"CHAS":{"0":0},"RM":{"0":6.575},"TAX":{"0":296.0},"PTRATIO":{"0":15.3},"B":{"0":396.9},"LSTAT":{"0":4.98}}"#;
    let limits = house_price::api::Limits::default();
    c.bench_function("parse_and_predict_original_client_payload", |b| {
        b.iter(|| {
            house_price::api::predict(&model, &limits, Some("application/json"), black_box(body))
        })
    });
}

criterion_group!(benches, inference);
criterion_main!(benches);
