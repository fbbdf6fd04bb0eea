//! Deterministic gradient-boosted regression trees for squared error.
//!
//! Each tree is grown level by level to a fixed depth and stored as a complete binary
//! tree in breadth-first order, exactly the layout `house_price::model::Trees` reads.
//! A node that is not split gets feature 0 and threshold `f64::MAX`, so every row goes
//! left, and both of its children inherit its value.
//!
//! Determinism comes from having no hidden order: rows are summed in index order, each
//! feature column is sorted once (ties by row index), and among equally good splits the
//! lowest feature index, then the lowest threshold, wins. Stored numbers are rounded to
//! 15 significant digits as they are made (see [`storable`]), so JSON cannot change them.

use std::fmt;

/// Split feature indices are stored as `u8`, so no more features than this.
pub const MAX_FEATURES: usize = 256;

/// The deepest tree [`fit`] grows; the artifact reader accepts no deeper.
pub const MAX_DEPTH: u32 = 16;

/// How to boost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// Number of boosting rounds (trees).
    pub n_trees: usize,
    /// Depth of every tree: `2^depth - 1` split nodes and `2^depth` leaves.
    pub max_depth: u32,
    /// Shrinkage, folded into the stored leaf values.
    pub learning_rate: f64,
}

/// A fitted ensemble in the flat, breadth-first layout of the model artifact.
#[derive(Clone, Debug, PartialEq)]
pub struct Ensemble {
    /// Depth of every tree.
    pub depth: u32,
    /// Number of trees.
    pub count: usize,
    /// Starting prediction: the mean of the training targets.
    pub base_score: f64,
    /// Feature index of each split node, `count * (2^depth - 1)` of them.
    pub feature: Vec<u8>,
    /// A row goes left when `value <= threshold`.
    pub threshold: Vec<f64>,
    /// Leaf values with the learning rate applied, `count * 2^depth` of them.
    pub leaf: Vec<f64>,
}

/// Why [`fit`] refused its input.
#[derive(Clone, Debug, PartialEq)]
pub enum FitError {
    /// There are no rows to learn from.
    NoRows,
    /// `x` and `y` differ in length.
    LengthMismatch {
        /// Rows in `x`.
        rows: usize,
        /// Values in `y`.
        targets: usize,
    },
    /// A feature or target value is NaN or infinite.
    NotFinite {
        /// The offending row.
        row: usize,
    },
    /// More features than a `u8` index can name.
    TooManyFeatures(usize),
    /// The parameters make no sense.
    BadParams(&'static str),
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::NoRows => f.write_str("there are no training rows"),
            FitError::LengthMismatch { rows, targets } => {
                write!(f, "there are {rows} feature rows but {targets} targets")
            }
            FitError::NotFinite { row } => {
                write!(f, "training row {row} has a NaN or infinite value")
            }
            FitError::TooManyFeatures(n) => {
                write!(f, "{n} features exceed the {MAX_FEATURES} a tree can index")
            }
            FitError::BadParams(why) => write!(f, "the boosting parameters are invalid: {why}"),
        }
    }
}

impl std::error::Error for FitError {}

impl Ensemble {
    /// Split nodes per tree.
    fn internal(&self) -> usize {
        (1usize << self.depth) - 1
    }

    /// The prediction for one row, summed tree by tree in the same order as
    /// `house_price::Model::predict`, so both give bit-identical results.
    pub fn predict<const N: usize>(&self, x: &[f64; N]) -> f64 {
        let internal = self.internal();
        let leaves = internal + 1;
        let mut sum = self.base_score;
        for t in 0..self.count {
            let feature = &self.feature[t * internal..(t + 1) * internal];
            let threshold = &self.threshold[t * internal..(t + 1) * internal];
            let mut node = 0usize;
            for _ in 0..self.depth {
                let go_right = x[usize::from(feature[node])] > threshold[node];
                node = 2 * node + 1 + usize::from(go_right);
            }
            sum += self.leaf[t * leaves + node - internal];
        }
        sum
    }
}

/// `v` rounded to 15 significant digits, and to no finer than 1e-22.
///
/// Every value the ensemble stores goes through this, so that its shortest decimal form
/// has a mantissa below 2^53 and a power of ten within 10^±22: the range where even a
/// parser that is not correctly rounded (serde_json without `float_roundtrip`) reads
/// back exactly the bits that were written. The model served is then bit for bit the
/// model trained. The rounding error, under 1e-15 relative, is far below any price.
pub fn storable(v: f64) -> f64 {
    if !v.is_finite() || v.abs() >= 1e22 {
        return v;
    }
    let text = if v.abs() < 1e-8 {
        format!("{v:.22}")
    } else {
        format!("{v:.14e}")
    };
    text.parse().unwrap_or(v)
}

/// The threshold between two consecutive distinct sorted values `a < b`: their midpoint
/// made [`storable`], or `a` itself when that does not fall in `[a, b)` (adjacent floats),
/// so that `a` always goes left and `b` always goes right.
fn threshold_between(a: f64, b: f64) -> f64 {
    let m = storable(a.midpoint(b));
    if a <= m && m < b { m } else { a }
}

/// The best split found so far for one node.
#[derive(Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    threshold: f64,
}

/// Fits `params.n_trees` trees to `y` on the rows `x`.
pub fn fit<const N: usize>(
    x: &[[f64; N]],
    y: &[f64],
    params: &Params,
) -> Result<Ensemble, FitError> {
    let n = x.len();
    if n == 0 {
        return Err(FitError::NoRows);
    }
    if y.len() != n {
        return Err(FitError::LengthMismatch {
            rows: n,
            targets: y.len(),
        });
    }
    if N == 0 || N > MAX_FEATURES {
        return Err(FitError::TooManyFeatures(N));
    }
    if !(1..=MAX_DEPTH).contains(&params.max_depth) {
        return Err(FitError::BadParams("the depth must be between 1 and 16"));
    }
    if params.n_trees == 0 {
        return Err(FitError::BadParams("there must be at least one tree"));
    }
    if !(params.learning_rate.is_finite() && params.learning_rate > 0.0) {
        return Err(FitError::BadParams(
            "the learning rate must be positive and finite",
        ));
    }
    if let Some(row) = (0..n).find(|&i| !(y[i].is_finite() && x[i].iter().all(|v| v.is_finite()))) {
        return Err(FitError::NotFinite { row });
    }

    let depth = params.max_depth;
    let internal = (1usize << depth) - 1;
    let leaves = internal + 1;

    // Each column sorted once; every level of every tree is then one linear scan per column.
    let order: Vec<Vec<usize>> = (0..N)
        .map(|f| {
            let mut idx: Vec<usize> = (0..n).collect();
            idx.sort_by(|&a, &b| x[a][f].total_cmp(&x[b][f]).then(a.cmp(&b)));
            idx
        })
        .collect();

    let base_score = storable(y.iter().sum::<f64>() / n as f64);
    let mut pred = vec![base_score; n];
    let mut resid = vec![0.0; n];
    // Position of each row within the current level (0 .. 2^level).
    let mut node_of = vec![0usize; n];

    let mut out = Ensemble {
        depth,
        count: params.n_trees,
        base_score,
        feature: Vec::with_capacity(params.n_trees * internal),
        threshold: Vec::with_capacity(params.n_trees * internal),
        leaf: Vec::with_capacity(params.n_trees * leaves),
    };

    // Per-node scratch, sized for the widest level.
    let mut count = vec![0usize; leaves];
    let mut sum = vec![0.0f64; leaves];
    let mut lo = vec![0.0f64; leaves];
    let mut hi = vec![0.0f64; leaves];
    let mut left_count = vec![0usize; leaves];
    let mut left_sum = vec![0.0f64; leaves];
    let mut last = vec![0.0f64; leaves];
    let mut best: Vec<Option<Split>> = vec![None; leaves];

    for _ in 0..params.n_trees {
        for i in 0..n {
            resid[i] = y[i] - pred[i];
        }
        node_of.fill(0);
        // Mean residual of each node at the current level, and whether it may still split
        // (a node below an unsplit node holds its parent's rows and value, and stays put).
        let mut value = vec![resid.iter().sum::<f64>() / n as f64];
        let mut open = vec![true];

        for level in 0..depth {
            let width = 1usize << level;
            count[..width].fill(0);
            sum[..width].fill(0.0);
            lo[..width].fill(f64::INFINITY);
            hi[..width].fill(f64::NEG_INFINITY);
            for i in 0..n {
                let k = node_of[i];
                count[k] += 1;
                sum[k] += resid[i];
                lo[k] = lo[k].min(resid[i]);
                hi[k] = hi[k].max(resid[i]);
            }
            // Equal residuals leave nothing to gain, whatever rounding says.
            let candidate: Vec<bool> = (0..width)
                .map(|k| open[k] && count[k] >= 2 && lo[k] < hi[k])
                .collect();

            best[..width].fill(None);
            for (f, rows) in order.iter().enumerate() {
                left_count[..width].fill(0);
                left_sum[..width].fill(0.0);
                for &i in rows {
                    let k = node_of[i];
                    if !candidate[k] {
                        continue;
                    }
                    let v = x[i][f];
                    if left_count[k] > 0 && v > last[k] {
                        // SSE reduction of this split: nl*nr/n * (mean_l - mean_r)^2.
                        let (nl, nt) = (left_count[k] as f64, count[k] as f64);
                        let nr = nt - nl;
                        let diff = left_sum[k] / nl - (sum[k] - left_sum[k]) / nr;
                        let gain = nl * nr / nt * diff * diff;
                        if gain > 0.0 && best[k].is_none_or(|b| gain > b.gain) {
                            best[k] = Some(Split {
                                gain,
                                feature: f,
                                threshold: threshold_between(last[k], v),
                            });
                        }
                    }
                    left_count[k] += 1;
                    left_sum[k] += resid[i];
                    last[k] = v;
                }
            }

            for split in &best[..width] {
                match split {
                    Some(s) => {
                        // Fits in u8: N <= MAX_FEATURES was checked above.
                        out.feature.push(s.feature as u8);
                        out.threshold.push(s.threshold);
                    }
                    None => {
                        out.feature.push(0);
                        out.threshold.push(f64::MAX);
                    }
                }
            }

            // Route rows to the next level with the same comparison inference uses.
            for i in 0..n {
                let k = node_of[i];
                let go_right = match best[k] {
                    Some(s) => x[i][s.feature] > s.threshold,
                    None => false,
                };
                node_of[i] = 2 * k + usize::from(go_right);
            }
            let mut child_sum = vec![0.0f64; 2 * width];
            let mut child_count = vec![0usize; 2 * width];
            for i in 0..n {
                child_sum[node_of[i]] += resid[i];
                child_count[node_of[i]] += 1;
            }
            let mut next_value = Vec::with_capacity(2 * width);
            let mut next_open = Vec::with_capacity(2 * width);
            for k in 0..width {
                let split = best[k].is_some();
                for c in [2 * k, 2 * k + 1] {
                    next_value.push(if split && child_count[c] > 0 {
                        child_sum[c] / child_count[c] as f64
                    } else {
                        value[k]
                    });
                    next_open.push(split);
                }
            }
            value = next_value;
            open = next_open;
        }

        let first_leaf = out.leaf.len();
        out.leaf
            .extend(value.iter().map(|v| storable(v * params.learning_rate)));
        for i in 0..n {
            pred[i] += out.leaf[first_leaf + node_of[i]];
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_DEEP_TREE: Params = Params {
        n_trees: 1,
        max_depth: 1,
        learning_rate: 1.0,
    };

    #[test]
    fn a_step_function_is_learned_exactly_by_one_full_rate_stump() {
        let x: Vec<[f64; 1]> = (0..10).map(|i| [f64::from(i)]).collect();
        let y: Vec<f64> = (0..10).map(|i| if i < 4 { 1.0 } else { 5.0 }).collect();
        let e = fit(&x, &y, &ONE_DEEP_TREE).unwrap();
        assert_eq!(e.feature, vec![0]);
        assert_eq!(e.threshold, vec![3.5]);
        for (row, target) in x.iter().zip(&y) {
            assert!((e.predict(row) - target).abs() < 1e-12);
        }
    }

    #[test]
    fn the_informative_feature_is_chosen_over_noise() {
        // Feature 0 is noise; feature 1 carries the step.
        let x: Vec<[f64; 2]> = (0..12)
            .map(|i| [f64::from((i * 7) % 5), f64::from(i)])
            .collect();
        let y: Vec<f64> = (0..12).map(|i| if i <= 5 { -2.0 } else { 3.0 }).collect();
        let e = fit(&x, &y, &ONE_DEEP_TREE).unwrap();
        assert_eq!((e.feature[0], e.threshold[0]), (1, 5.5));
    }

    #[test]
    fn a_constant_target_gives_constant_predictions_and_no_splits() {
        let x: Vec<[f64; 3]> = (0..20)
            .map(|i| [f64::from(i), f64::from(i % 3), f64::from(20 - i)])
            .collect();
        let y = vec![7.3; 20];
        let params = Params {
            n_trees: 5,
            max_depth: 3,
            learning_rate: 0.1,
        };
        let e = fit(&x, &y, &params).unwrap();
        assert!(e.threshold.iter().all(|t| *t == f64::MAX));
        assert!(e.feature.iter().all(|f| *f == 0));
        let first = e.predict(&x[0]);
        assert!((first - 7.3).abs() < 1e-12);
        for row in &x {
            assert_eq!(e.predict(row), first);
        }
        assert_eq!(e.predict(&[-1e300, 1e300, 0.0]), first);
    }

    #[test]
    fn an_unsplit_node_passes_its_value_to_both_children() {
        // Two rows, depth 2: the root splits them apart, then each child has one row.
        let x = [[0.0], [1.0]];
        let y = [2.0, 4.0];
        let params = Params {
            n_trees: 1,
            max_depth: 2,
            learning_rate: 1.0,
        };
        let e = fit(&x, &y, &params).unwrap();
        assert_eq!(e.threshold, vec![0.5, f64::MAX, f64::MAX]);
        assert_eq!(e.feature, vec![0, 0, 0]);
        // Leaves in breadth-first order: left's two children, then right's two.
        assert_eq!(e.leaf, vec![-1.0, -1.0, 1.0, 1.0]);
        assert_eq!(e.predict(&[0.0]), 2.0);
        assert_eq!(e.predict(&[1.0]), 4.0);
    }

    #[test]
    fn equally_good_splits_go_to_the_lowest_feature_then_the_lowest_threshold() {
        // Features 0 and 1 are identical: feature 0 must win.
        let x: Vec<[f64; 2]> = (0..6).map(|i| [f64::from(i), f64::from(i)]).collect();
        // Symmetric target: splitting after row 1 or after row 3 gains the same.
        let y = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0];
        let e = fit(&x, &y, &ONE_DEEP_TREE).unwrap();
        assert_eq!((e.feature[0], e.threshold[0]), (0, 1.5));
    }

    #[test]
    fn adjacent_floats_still_split_between_them() {
        let a = 1.0f64;
        let b = a.next_up();
        let t = threshold_between(a, b);
        assert!(a <= t && t < b);
        let e = fit(&[[a], [b]], &[0.0, 1.0], &ONE_DEEP_TREE).unwrap();
        assert_eq!(e.predict(&[a]), 0.0);
        assert_eq!(e.predict(&[b]), 1.0);
    }

    #[test]
    fn storable_values_survive_serde_json_exactly() {
        // 0.1 * (1/3) and friends have 17-digit shortest forms; the default serde_json
        // parser is not guaranteed to read those back.
        let samples = [
            0.1 * (1.0 / 3.0),
            -(2.0f64.sqrt()) * 1.8,
            6.5f64.midpoint(6.575),
            1.0 / 7.0 * 1e-9,
            -1e-21 / 3.0,
            123_456.789 / 0.7,
            0.0,
        ];
        for v in samples {
            let s = storable(v);
            assert!((s - v).abs() <= v.abs() * 1e-14 + 1e-22, "{v} -> {s}");
            let back: f64 = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
            assert_eq!(back.to_bits(), s.to_bits(), "{v} -> {s} -> {back}");
            assert_eq!(storable(s), s);
        }
        assert_eq!(storable(f64::MAX), f64::MAX);
        // The threshold of an unsplit node must survive too.
        let max: f64 = serde_json::from_str(&serde_json::to_string(&f64::MAX).unwrap()).unwrap();
        assert_eq!(max, f64::MAX);
    }

    #[test]
    fn boosting_reduces_the_training_error_and_keeps_the_layout() {
        let x: Vec<[f64; 2]> = (0..50)
            .map(|i| [f64::from(i % 7), f64::from(i) / 10.0])
            .collect();
        let y: Vec<f64> = x.iter().map(|r| (r[1]).sin() * 3.0 + r[0]).collect();
        let sse = |e: &Ensemble| -> f64 {
            x.iter()
                .zip(&y)
                .map(|(r, t)| (e.predict(r) - t).powi(2))
                .sum()
        };
        let mut params = Params {
            n_trees: 5,
            max_depth: 3,
            learning_rate: 0.1,
        };
        let few = fit(&x, &y, &params).unwrap();
        params.n_trees = 100;
        let many = fit(&x, &y, &params).unwrap();
        assert!(
            sse(&many) < sse(&few) / 10.0,
            "{} vs {}",
            sse(&many),
            sse(&few)
        );
        assert_eq!(many.feature.len(), 100 * 7);
        assert_eq!(many.threshold.len(), 100 * 7);
        assert_eq!(many.leaf.len(), 100 * 8);
    }

    #[test]
    fn fitting_twice_gives_identical_ensembles() {
        let x: Vec<[f64; 3]> = (0..40)
            .map(|i| {
                [
                    f64::from(i % 2),
                    f64::from((i * 13) % 17),
                    f64::from(i).sqrt(),
                ]
            })
            .collect();
        let y: Vec<f64> = x.iter().map(|r| r[0] * 4.0 + r[1] - r[2] * r[2]).collect();
        let params = Params {
            n_trees: 30,
            max_depth: 3,
            learning_rate: 0.1,
        };
        let a = fit(&x, &y, &params).unwrap();
        let b = fit(&x, &y, &params).unwrap();
        assert_eq!(a, b);
        let bits = |e: &Ensemble| e.leaf.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
    }

    #[test]
    fn bad_input_is_refused() {
        let p = ONE_DEEP_TREE;
        let empty: [[f64; 1]; 0] = [];
        assert_eq!(fit(&empty, &[], &p), Err(FitError::NoRows));
        assert_eq!(
            fit(&[[1.0]], &[1.0, 2.0], &p),
            Err(FitError::LengthMismatch {
                rows: 1,
                targets: 2
            })
        );
        assert_eq!(
            fit(&[[1.0], [f64::NAN]], &[1.0, 2.0], &p),
            Err(FitError::NotFinite { row: 1 })
        );
        assert_eq!(
            fit(&[[1.0], [2.0]], &[1.0, f64::INFINITY], &p),
            Err(FitError::NotFinite { row: 1 })
        );
        for bad in [
            Params { max_depth: 0, ..p },
            Params { max_depth: 17, ..p },
            Params { n_trees: 0, ..p },
            Params {
                learning_rate: 0.0,
                ..p
            },
            Params {
                learning_rate: f64::NAN,
                ..p
            },
        ] {
            assert!(matches!(
                fit(&[[1.0]], &[1.0], &bad),
                Err(FitError::BadParams(_))
            ));
        }
        let wide = vec![[0.0; 300]];
        assert_eq!(fit(&wide, &[1.0], &p), Err(FitError::TooManyFeatures(300)));
    }
}
