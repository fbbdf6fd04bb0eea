//! Seeded, shuffled k-fold cross-validation, with its own tiny generator so the folds
//! never change with a dependency's version.

use house_price::model::CrossValidation;

use crate::TrainError;
use crate::gbrt::{self, Params};

/// SplitMix64 (Steele, Lea and Flood 2014): a complete, well-mixed 64-bit generator in
/// three lines, plenty for shuffling a few hundred rows.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator whose whole future is fixed by `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound > 0`). The modulo bias is below 2^-50 for the
    /// bounds used here, and it is deterministic, which is what matters.
    fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }
}

/// `0..n` in a Fisher-Yates order fixed by `seed`.
pub fn shuffled_indices(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.below(i + 1);
        idx.swap(i, j);
    }
    idx
}

/// Fold sizes as scikit-learn's `KFold` makes them: the first `n % k` folds get one more row.
pub fn fold_sizes(n: usize, k: usize) -> Vec<usize> {
    (0..k).map(|i| n / k + usize::from(i < n % k)).collect()
}

/// Root-mean-square error of `predicted` against `actual` (equal, non-zero lengths).
pub fn rmse(predicted: &[f64], actual: &[f64]) -> f64 {
    let sse: f64 = predicted
        .iter()
        .zip(actual)
        .map(|(p, a)| (p - a) * (p - a))
        .sum();
    (sse / actual.len() as f64).sqrt()
}

/// Trains on all folds but one, scores the held-out fold, for every fold in turn.
pub fn cross_validate<const N: usize>(
    x: &[[f64; N]],
    y: &[f64],
    params: &Params,
    folds: usize,
    seed: u64,
) -> Result<CrossValidation, TrainError> {
    let n = x.len();
    if folds < 2 || folds > n {
        return Err(TrainError::Folds { folds, rows: n });
    }
    let order = shuffled_indices(n, seed);
    let mut fold_rmse = Vec::with_capacity(folds);
    let mut start = 0;
    for size in fold_sizes(n, folds) {
        let mut held_out = vec![false; n];
        for &i in &order[start..start + size] {
            held_out[i] = true;
        }
        start += size;
        // Both sides keep the original row order, so sums run in a fixed order.
        let (mut train_x, mut train_y, mut test_x, mut test_y) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            if held_out[i] {
                test_x.push(x[i]);
                test_y.push(y[i]);
            } else {
                train_x.push(x[i]);
                train_y.push(y[i]);
            }
        }
        let model = gbrt::fit(&train_x, &train_y, params)?;
        let predicted: Vec<f64> = test_x.iter().map(|r| model.predict(r)).collect();
        fold_rmse.push(rmse(&predicted, &test_y));
    }
    let mean = fold_rmse.iter().sum::<f64>() / folds as f64;
    Ok(CrossValidation {
        folds,
        shuffled: true,
        seed,
        fold_rmse,
        rmse: mean,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first five outputs for seed 1234567, as listed by the Rosetta Code task
        // "Pseudo-random numbers/Splitmix64".
        let mut r = SplitMix64::new(1234567);
        let got: Vec<u64> = (0..5).map(|_| r.next_u64()).collect();
        assert_eq!(
            got,
            vec![
                6457827717110365317,
                3203168211198807973,
                9817491932198370423,
                4593380528125082431,
                16408922859458223821
            ]
        );
    }

    #[test]
    fn a_shuffle_is_a_fixed_permutation_of_its_seed() {
        let a = shuffled_indices(506, 42);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..506).collect::<Vec<_>>());
        assert_eq!(a, shuffled_indices(506, 42));
        assert_ne!(a, shuffled_indices(506, 43));
        assert_ne!(a, sorted);
    }

    #[test]
    fn folds_cover_every_row_once_like_kfold() {
        assert_eq!(fold_sizes(506, 5), vec![102, 101, 101, 101, 101]);
        assert_eq!(fold_sizes(10, 5), vec![2; 5]);
    }

    #[test]
    fn rmse_is_the_root_of_the_mean_squared_error() {
        assert_eq!(rmse(&[1.0, 3.0], &[1.0, 1.0]), 2.0f64.sqrt());
        assert_eq!(rmse(&[5.0], &[5.0]), 0.0);
    }

    #[test]
    fn cross_validation_of_a_learnable_function_scores_well_and_is_repeatable() {
        let x: Vec<[f64; 1]> = (0..60).map(|i| [f64::from(i)]).collect();
        let y: Vec<f64> = (0..60).map(|i| if i < 30 { 0.0 } else { 10.0 }).collect();
        let params = Params {
            n_trees: 50,
            max_depth: 2,
            learning_rate: 0.3,
        };
        let cv = cross_validate(&x, &y, &params, 5, 7).unwrap();
        assert_eq!(cv.fold_rmse.len(), 5);
        assert!(cv.rmse < 1.0, "{cv:?}");
        assert_eq!(cv, cross_validate(&x, &y, &params, 5, 7).unwrap());
        assert!(matches!(
            cross_validate(&x, &y, &params, 1, 7),
            Err(TrainError::Folds { folds: 1, rows: 60 })
        ));
        assert!(matches!(
            cross_validate(&x[..3], &y[..3], &params, 5, 7),
            Err(TrainError::Folds { folds: 5, rows: 3 })
        ));
    }
}
