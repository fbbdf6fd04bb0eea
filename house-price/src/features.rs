//! The model's six input features and the validated row type.

use std::fmt;

/// How many features a row has.
pub const N_FEATURES: usize = 6;

/// The feature names, in the order the model reads them. This order is public API:
/// CSV columns may come in any order, but `Row::values` is always in this order.
pub const FEATURES: [&str; N_FEATURES] = ["CHAS", "RM", "TAX", "PTRATIO", "B", "LSTAT"];

/// Index of `CHAS` in [`FEATURES`]: the only categorical feature.
pub const CHAS: usize = 0;

/// Position of a feature name in [`FEATURES`], or `None` for an unknown name.
/// Names are matched exactly: `"LSTAT "` or `"lstat"` is not `LSTAT`.
pub fn feature_index(name: &str) -> Option<usize> {
    FEATURES.iter().position(|f| *f == name)
}

/// One house, valid by construction: every value is finite and `CHAS` is 0 or 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row([f64; N_FEATURES]);

/// Why a single value cannot be a feature value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueProblem {
    /// NaN (or JSON `null`, which is how pandas writes NaN).
    NotANumber,
    /// Positive or negative infinity.
    Infinite,
    /// `CHAS` is a 0/1 dummy variable.
    NotZeroOrOne,
}

impl fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueProblem::NotANumber => "is not a number (NaN or null)",
            ValueProblem::Infinite => "is infinite",
            ValueProblem::NotZeroOrOne => "must be 0 or 1",
        })
    }
}

/// Checks one value for the feature at `index` in [`FEATURES`].
pub fn check_value(index: usize, value: f64) -> Result<f64, ValueProblem> {
    if value.is_nan() {
        Err(ValueProblem::NotANumber)
    } else if value.is_infinite() {
        Err(ValueProblem::Infinite)
    } else if index == CHAS && value != 0.0 && value != 1.0 {
        Err(ValueProblem::NotZeroOrOne)
    } else {
        Ok(value)
    }
}

impl Row {
    /// Builds a row from values in [`FEATURES`] order, reporting the first bad one by index.
    pub fn new(values: [f64; N_FEATURES]) -> Result<Row, (usize, ValueProblem)> {
        for (i, v) in values.iter().enumerate() {
            check_value(i, *v).map_err(|p| (i, p))?;
        }
        Ok(Row(values))
    }

    /// The values in [`FEATURES`] order.
    pub fn values(&self) -> &[f64; N_FEATURES] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_names_match_exactly() {
        assert_eq!(feature_index("LSTAT"), Some(5));
        assert_eq!(feature_index("LSTAT "), None);
        assert_eq!(feature_index("lstat"), None);
    }

    #[test]
    fn rows_reject_nan_infinity_and_bad_chas() {
        let ok = [0.0, 6.575, 296.0, 15.3, 396.9, 4.98];
        assert!(Row::new(ok).is_ok());
        let mut nan = ok;
        nan[1] = f64::NAN;
        assert_eq!(Row::new(nan), Err((1, ValueProblem::NotANumber)));
        let mut inf = ok;
        inf[5] = f64::NEG_INFINITY;
        assert_eq!(Row::new(inf), Err((5, ValueProblem::Infinite)));
        let mut chas = ok;
        chas[0] = 2.0;
        assert_eq!(Row::new(chas), Err((0, ValueProblem::NotZeroOrOne)));
        chas[0] = 1.0;
        assert!(Row::new(chas).is_ok());
    }
}
