//! Any bytes as a JSON `POST /predict` body: an answer or an `ApiError`, never a panic, and
//! one finite prediction per row when it succeeds.
#![no_main]

use house_price::api::{self, Limits};
use libfuzzer_sys::fuzz_target;

mod model;
use model::model;

fuzz_target!(|body: &[u8]| {
    let limits = Limits::default();
    if let Ok(rows) = api::parse_rows(&limits, Some("application/json"), body) {
        let reply = api::predict(model(), &limits, Some("application/json"), body)
            .expect("a body that parses is priced");
        let answer: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        let predictions = answer["prediction"].as_array().unwrap();
        assert_eq!(predictions.len(), rows.len());
        assert!(
            predictions
                .iter()
                .all(|p| p.as_f64().is_some_and(f64::is_finite))
        );
    } else {
        let e = api::predict(model(), &limits, Some("application/json"), body).unwrap_err();
        assert!(e.status() >= 400 && e.status() < 500, "{e:?}");
    }
});
