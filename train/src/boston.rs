//! The Boston house-price data as shipped inside smartcore, reduced to the model's features.

use house_price::{FEATURES, N_FEATURES, Row};

use crate::TrainError;

/// A one-line name of the data set, recorded in the artifact.
pub const DATASET: &str = "Boston house-price data (http://lib.stat.cmu.edu/datasets/boston) as shipped in smartcore 0.7 dataset::boston";

/// Rows the Boston data set has; anything else means smartcore changed under us.
pub const ROWS: usize = 506;

/// Training rows in [`FEATURES`] order, with MEDV as the target.
#[derive(Clone, Debug)]
pub struct Data {
    /// Validated rows, as `house_price` sees them.
    pub rows: Vec<Row>,
    /// The same values as plain arrays, as the trainer sees them.
    pub x: Vec<[f64; N_FEATURES]>,
    /// MEDV, median value of owner-occupied homes in $1000s.
    pub y: Vec<f64>,
}

/// Widens an `f32` through its shortest decimal form, so the f32 nearest 6.575 becomes
/// the f64 6.575 the original data set holds rather than 6.57500028610229.
pub fn widen(v: f32) -> f64 {
    // Rust prints every f32, NaN and infinities included, in a form `f64` parses back.
    format!("{v}").parse::<f64>().unwrap_or(f64::NAN)
}

/// Loads the data, picks the model's columns by name, and validates every value.
pub fn load() -> Result<Data, TrainError> {
    let set = smartcore::dataset::boston::load_dataset();
    let bad = |why: String| Err(TrainError::Data(why));
    if set.num_samples != ROWS
        || set.feature_names.len() != set.num_features
        || set.data.len() != set.num_samples * set.num_features
        || set.target.len() != set.num_samples
    {
        return bad(format!(
            "expected {ROWS} rows, found {} rows of {} features with {} names, {} values and {} targets",
            set.num_samples,
            set.num_features,
            set.feature_names.len(),
            set.data.len(),
            set.target.len()
        ));
    }
    let mut columns = [0usize; N_FEATURES];
    for (slot, name) in columns.iter_mut().zip(FEATURES) {
        match set.feature_names.iter().position(|n| n == name) {
            Some(c) => *slot = c,
            None => return bad(format!("it has no {name} column")),
        }
    }

    let mut data = Data {
        rows: Vec::with_capacity(ROWS),
        x: Vec::with_capacity(ROWS),
        y: Vec::with_capacity(ROWS),
    };
    for (r, (raw, target)) in set
        .data
        .chunks_exact(set.num_features)
        .zip(&set.target)
        .enumerate()
    {
        let values = columns.map(|c| widen(raw[c]));
        let row = match Row::new(values) {
            Ok(row) => row,
            Err((f, problem)) => {
                return bad(format!("row {r} has a {} that {problem}", FEATURES[f]));
            }
        };
        let y = widen(*target);
        if !y.is_finite() {
            return bad(format!("row {r} has a MEDV that is not a finite number"));
        }
        data.rows.push(row);
        data.x.push(values);
        data.y.push(y);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_keeps_the_decimal_value() {
        assert_eq!(widen(6.575), 6.575);
        assert_eq!(widen(396.9), 396.9);
        assert_ne!(f64::from(6.575f32), 6.575);
        assert!(widen(f32::NAN).is_nan());
    }

    #[test]
    fn the_first_row_is_the_classic_first_boston_row() {
        let d = load().unwrap();
        assert_eq!(d.x.len(), ROWS);
        assert_eq!(d.rows.len(), ROWS);
        assert_eq!(d.x[0], [0.0, 6.575, 296.0, 15.3, 396.9, 4.98]);
        assert_eq!(d.y[0], 24.0);
        assert_eq!(d.rows[0].values(), &d.x[0]);
    }
}
