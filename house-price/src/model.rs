//! The gradient-boosted tree model: its JSON artifact and allocation-free inference.
//!
//! Every tree is stored as a *complete* binary tree of a fixed depth, in flat arrays,
//! so inference is a few comparisons and index doublings per tree with no pointer
//! chasing. A node that training did not split has threshold `f64::MAX`: every finite
//! value goes left, and both leaves under it carry the same value.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::features::{FEATURES, N_FEATURES, Row};

mod ranked;

/// The artifact format this build reads and the training tool writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The artifact compiled into both servers, so a deployment is a single binary.
pub const EMBEDDED_ARTIFACT: &str = include_str!("../model/house-price-model.json");

/// The environment variable naming another artifact to load instead of the embedded one.
pub const MODEL_PATH_VAR: &str = "MODEL_PATH";

/// The model file as stored on disk (see `house-price/model/`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// Must equal [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// A name for this trained model, reported by `/health` and in job results.
    pub model_version: String,
    /// Must equal [`FEATURES`], in order.
    pub features: Vec<String>,
    /// What is predicted, and in which unit.
    pub target: String,
    /// How the model was trained and how well it did.
    pub training: TrainingInfo,
    /// Feature scaling fitted on the training data, or `None` when the model needs none.
    /// Trees split on raw values, so this model needs none; the field is here so that a
    /// scaler can never again be fitted at request time.
    pub scaling: Option<Scaling>,
    /// The ensemble.
    pub trees: Trees,
}

/// Standardisation parameters fitted once on the training data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaling {
    /// Per-feature mean, subtracted first.
    pub mean: Vec<f64>,
    /// Per-feature scale, divided by second.
    pub scale: Vec<f64>,
}

/// Training provenance and metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingInfo {
    /// Where the data came from.
    pub dataset: String,
    /// Number of training rows.
    pub rows: usize,
    /// Loss the trees minimise.
    pub loss: String,
    /// Number of boosting rounds.
    pub n_trees: usize,
    /// Depth of each tree.
    pub max_depth: u32,
    /// Shrinkage applied to each tree (already folded into the leaf values).
    pub learning_rate: f64,
    /// Root-mean-square error on the training data itself.
    pub train_rmse: f64,
    /// Cross-validation of the same procedure.
    pub cross_validation: CrossValidation,
}

/// K-fold cross-validation results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossValidation {
    /// Number of folds.
    pub folds: usize,
    /// Whether rows were shuffled before folding.
    pub shuffled: bool,
    /// Seed of the shuffle.
    pub seed: u64,
    /// RMSE of each fold.
    pub fold_rmse: Vec<f64>,
    /// Mean of `fold_rmse`.
    pub rmse: f64,
}

/// The ensemble in flat arrays. For `count` trees of depth `d` there are `count * (2^d - 1)`
/// split nodes and `count * 2^d` leaves, each tree's nodes in breadth-first order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trees {
    /// Depth of every tree.
    pub depth: u32,
    /// Number of trees.
    pub count: usize,
    /// Starting prediction (the training mean for squared error).
    pub base_score: f64,
    /// Feature index of each split node.
    pub feature: Vec<u8>,
    /// A row goes left when `value <= threshold`.
    pub threshold: Vec<f64>,
    /// Leaf values, learning rate included.
    pub leaf: Vec<f64>,
}

/// Why an artifact cannot be used. Each message is one sentence.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read.
    #[error("cannot read the model file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The JSON does not match the artifact format.
    #[error("the model artifact is not valid model JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Valid JSON, wrong content.
    #[error("the model artifact does not match this program: {0}")]
    Mismatch(String),
}

/// A validated model, ready to predict.
#[derive(Clone, Debug)]
pub struct Model {
    version: String,
    depth: u32,
    internal: usize,
    leaves: usize,
    base: f64,
    scaling: Option<([f64; N_FEATURES], [f64; N_FEATURES])>,
    /// Split nodes of all trees, tree after tree; a threshold and its feature side by side
    /// so one tree's splits share a cache line or two.
    splits: Vec<Split>,
    leaf: Vec<f64>,
    /// The same trees in the fixed depth-3 layout, when that is their depth (else empty).
    trees3: Vec<Tree3>,
    /// The same depth-3 trees over feature ranks, for the AVX-512BW kernel (see
    /// [`ranked`]); `None` for other depths, or a feature with too many thresholds.
    ranked: Option<std::sync::Arc<ranked::Ranked>>,
    artifact: Artifact,
}

#[derive(Clone, Copy, Debug)]
struct Split {
    threshold: f64,
    feature: usize,
}

/// A depth-3 tree (the trained depth) in fixed-size arrays: every index is provably in
/// bounds, so the walk compiles to loads, compares and adds, with no bounds checks.
#[derive(Clone, Copy, Debug)]
struct Tree3 {
    threshold: [f64; 7],
    /// Feature indexes, below 6 (validated); masked to below 8 so the compiler knows it.
    feature: [u8; 7],
    leaf: [f64; 8],
}

/// Feature values padded to 8, the range `Tree3::feature` is masked to.
type Padded = [f64; 8];

fn padded(x: &[f64; N_FEATURES]) -> Padded {
    let mut p = [0.0; 8];
    p[..N_FEATURES].copy_from_slice(x);
    p
}

#[inline(always)]
fn walk3(t: &Tree3, x: &Padded) -> f64 {
    let right = |n: usize| usize::from(x[usize::from(t.feature[n] & 7)] > t.threshold[n]);
    let n1 = 1 + right(0);
    let n2 = 2 * n1 + 1 + right(n1);
    let n3 = 2 * n2 + 1 + right(n2);
    t.leaf[n3 - 7]
}

/// Rows scored together, tree by tree: the tree stays in L1 cache and the rows' independent
/// walks overlap in the CPU's pipeline.
const BLOCK: usize = 64;

/// Rows in one column block of the depth-3 batch kernel: four AVX-512 vectors of f64.
const COLUMNS: usize = 32;

/// The cores this process may use, asked once: the standard library reads the cgroup's
/// CPU quota from files on every call, microseconds a one-row request should not pay.
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Batches from this size up are scored on two threads (see [`Model::predict_into`]).
pub const PARALLEL_ROWS: usize = 4096;
// Each half of a split batch keeps at least one whole column block.
const _: () = assert!(PARALLEL_ROWS >= 2 * COLUMNS && PARALLEL_ROWS >= 2 * ranked::BLOCK_ROWS);

/// Fewer rows than this in a block are walked one by one instead (see `predict_into_with`).
const FEW_ROWS: usize = 8;

/// Feature columns of a block of rows, padded to 8 like [`Padded`].
type Columns = [[f64; COLUMNS]; 8];

/// Adds every depth-3 tree to `sums`, a column block at a time. Each tree's seven splits are
/// compared for all rows at once and the leaf is picked by selects from the bottom level up,
/// so there is no data-dependent load: the loop compiles to vector compares and blends.
/// A select picks the same leaf [`walk3`] reaches, and trees are added in the same order,
/// so every sum is bit for bit the one [`Model::predict`] gives.
#[inline(always)]
fn score3(trees: &[Tree3], cols: &Columns, sums: &mut [f64; COLUMNS]) {
    for t in trees {
        let col = |n: usize| &cols[usize::from(t.feature[n] & 7)];
        let (c0, c1, c2, c3, c4, c5, c6) = (col(0), col(1), col(2), col(3), col(4), col(5), col(6));
        // Values, not references: selects between two loads of one array would become a
        // gather of an index; between two values they are blends.
        let [t0, t1, t2, t3, t4, t5, t6] = t.threshold;
        let [l0, l1, l2, l3, l4, l5, l6, l7] = t.leaf;
        for i in 0..COLUMNS {
            let v3 = if c3[i] > t3 { l1 } else { l0 };
            let v4 = if c4[i] > t4 { l3 } else { l2 };
            let v5 = if c5[i] > t5 { l5 } else { l4 };
            let v6 = if c6[i] > t6 { l7 } else { l6 };
            let v1 = if c1[i] > t1 { v4 } else { v3 };
            let v2 = if c2[i] > t2 { v6 } else { v5 };
            sums[i] += if c0[i] > t0 { v2 } else { v1 };
        }
    }
}

pub(crate) use kernel::Kernel;

/// The builds of [`score3`] and the one way to get one: a [`Kernel`] can only come from the
/// CPU's own answer, so the `unsafe` calls below never run an instruction set it lacks.
mod kernel {
    use super::{COLUMNS, Columns, N_FEATURES, Tree3, ranked, score3};

    /// Which build of [`score3`] this CPU runs; made only by [`Kernel::detect`] and
    /// [`Kernel::available`], which ask the CPU.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct Kernel(Width);

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Width {
        /// Baseline x86-64 (SSE2) or another architecture.
        Scalar,
        /// AVX2 (four rows per instruction; sixteen trees for a single row). Outside
        /// tests, [`Width::Avx2Ranked`] runs this build for a model with no rank form; tests
        /// make it to hold it to the same bits on every model.
        #[cfg_attr(any(not(target_arch = "x86_64"), not(test)), allow(dead_code))]
        Avx2,
        /// AVX2 over feature ranks, sixteen rows per instruction (see [`ranked`]); the `f64`
        /// AVX2 build for a model that has no rank form.
        #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
        Avx2Ranked,
        /// AVX-512F (eight rows per instruction).
        #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
        Avx512,
        /// AVX-512F and BW: feature ranks, 32 rows per instruction (see [`ranked`]); the
        /// `f64` AVX-512 build for a model that has no rank form.
        #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
        Avx512Ranked,
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn score3_avx512(trees: &[Tree3], cols: &Columns, sums: &mut [f64; COLUMNS]) {
        score3(trees, cols, sums)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn score3_avx2(trees: &[Tree3], cols: &Columns, sums: &mut [f64; COLUMNS]) {
        score3(trees, cols, sums)
    }

    impl Kernel {
        /// The widest build the CPU supports (detected once; the result is cached by std).
        pub(crate) fn detect() -> Kernel {
            #[cfg(target_arch = "x86_64")]
            {
                // Every kernel but Scalar also scores single rows with AVX2.
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx2")
                {
                    if std::arch::is_x86_feature_detected!("avx512bw")
                        && std::arch::is_x86_feature_detected!("popcnt")
                    {
                        return Kernel(Width::Avx512Ranked);
                    }
                    return Kernel(Width::Avx512);
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    return Kernel(Width::Avx2Ranked);
                }
            }
            Kernel(Width::Scalar)
        }

        /// Every kernel this CPU can run, for tests that compare them.
        #[cfg(test)]
        pub(crate) fn available() -> Vec<Kernel> {
            let mut all = vec![Kernel(Width::Scalar)];
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    all.push(Kernel(Width::Avx2));
                    all.push(Kernel(Width::Avx2Ranked));
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx2")
                {
                    all.push(Kernel(Width::Avx512));
                    if std::arch::is_x86_feature_detected!("avx512bw")
                        && std::arch::is_x86_feature_detected!("popcnt")
                    {
                        all.push(Kernel(Width::Avx512Ranked));
                    }
                }
            }
            all
        }

        /// Whether this kernel scores feature ranks (see [`ranked`]).
        pub(super) fn ranked(self) -> bool {
            matches!(self.0, Width::Avx2Ranked | Width::Avx512Ranked)
        }

        /// Writes the sum of `base` and every tree for the block of rows `xs` into `out`
        /// (see `Ranked::score_avx2` and `Ranked::score_avx512`); for a kernel that is not
        /// [`Kernel::ranked`], this does nothing.
        pub(super) fn score_ranked(
            self,
            model: &ranked::Ranked,
            base: f64,
            xs: &[[f64; N_FEATURES]],
            ranks: &mut ranked::Ranks,
            out: &mut [f64],
        ) {
            #[cfg(target_arch = "x86_64")]
            match self.0 {
                Width::Avx512Ranked => {
                    let mut sums = [[base; 8]; 8];
                    // SAFETY: only `detect` and `available` make an Avx512Ranked kernel,
                    // and only when the CPU reports AVX-512F, AVX-512BW and POPCNT.
                    unsafe { model.score_avx512(xs, ranks, &mut sums) };
                    for (i, out) in out.iter_mut().enumerate() {
                        *out = ranked::sum_of(&sums, i);
                    }
                }
                // SAFETY: only `detect` and `available` make an Avx2Ranked kernel, and only
                // when the CPU reports AVX2.
                Width::Avx2Ranked => unsafe { model.score_avx2(base, xs, ranks, out) },
                _ => {}
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = (model, base, xs, ranks, out);
        }

        /// One row's sum through the AVX2 one-row kernel, or `None` on a CPU without it.
        pub(super) fn score_row(
            self,
            model: &ranked::Ranked,
            base: f64,
            x: &[f64; N_FEATURES],
        ) -> Option<f64> {
            #[cfg(target_arch = "x86_64")]
            if self.0 != Width::Scalar {
                // SAFETY: only `detect` and `available` make kernels other than Scalar, and
                // only when the CPU reports AVX2.
                return Some(unsafe { model.score_row_avx2(base, x) });
            }
            let _ = (model, base, x);
            None
        }

        pub(super) fn score3(self, trees: &[Tree3], cols: &Columns, sums: &mut [f64; COLUMNS]) {
            match self.0 {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: only `detect` and `available` make these kernels, and only when
                // the CPU reports AVX-512F.
                Width::Avx512 | Width::Avx512Ranked => unsafe { score3_avx512(trees, cols, sums) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: only `detect` and `available` make an Avx2 kernel, and only when the
                // CPU reports AVX2.
                Width::Avx2 | Width::Avx2Ranked => unsafe { score3_avx2(trees, cols, sums) },
                _ => score3(trees, cols, sums),
            }
        }
    }
}

/// Walks one tree of depth `depth` (a complete binary tree in breadth-first order).
#[inline(always)]
fn walk(splits: &[Split], leaves: &[f64], depth: u32, x: &[f64; N_FEATURES]) -> f64 {
    let mut node = 0usize;
    for _ in 0..depth {
        let s = splits[node];
        node = 2 * node + 1 + usize::from(x[s.feature] > s.threshold);
    }
    leaves[node - splits.len()]
}

impl Model {
    /// The model compiled into this binary.
    pub fn embedded() -> Result<Model, ModelError> {
        Model::from_json(EMBEDDED_ARTIFACT)
    }

    /// The model named by `MODEL_PATH` when it is set, the embedded one otherwise.
    pub fn from_env() -> Result<Model, ModelError> {
        match std::env::var_os(MODEL_PATH_VAR) {
            Some(path) if !path.is_empty() => Model::from_file(Path::new(&path)),
            _ => Model::embedded(),
        }
    }

    /// Reads and validates an artifact file.
    pub fn from_file(path: &Path) -> Result<Model, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Model::from_json(&text)
    }

    /// Parses and validates artifact JSON.
    pub fn from_json(text: &str) -> Result<Model, ModelError> {
        Model::from_artifact(serde_json::from_str(text)?)
    }

    /// Validates an artifact so that inference can never index out of bounds.
    pub fn from_artifact(artifact: Artifact) -> Result<Model, ModelError> {
        let bad = |m: String| Err(ModelError::Mismatch(m));
        if artifact.schema_version != SCHEMA_VERSION {
            return bad(format!(
                "schema version {} is not the supported version {SCHEMA_VERSION}",
                artifact.schema_version
            ));
        }
        if artifact.features != FEATURES {
            return bad(format!(
                "its features {:?} are not {:?}",
                artifact.features, FEATURES
            ));
        }
        let t = &artifact.trees;
        if !(1..=16).contains(&t.depth) {
            return bad(format!("tree depth {} is outside 1 to 16", t.depth));
        }
        let leaves = 1usize << t.depth;
        let internal = leaves - 1;
        if t.count == 0
            || t.feature.len() != t.count * internal
            || t.threshold.len() != t.count * internal
            || t.leaf.len() != t.count * leaves
        {
            return bad(format!(
                "{} trees of depth {} need {} split nodes and {} leaves, found {} features, {} thresholds and {} leaves",
                t.count,
                t.depth,
                t.count * internal,
                t.count * leaves,
                t.feature.len(),
                t.threshold.len(),
                t.leaf.len()
            ));
        }
        if let Some(f) = t.feature.iter().find(|f| usize::from(**f) >= N_FEATURES) {
            return bad(format!(
                "a split uses feature index {f}, beyond the six features"
            ));
        }
        if t.threshold.iter().any(|v| v.is_nan())
            || !t.leaf.iter().chain([&t.base_score]).all(|v| v.is_finite())
        {
            return bad("a threshold is NaN or a leaf value is not finite".into());
        }
        let scaling = match &artifact.scaling {
            None => None,
            Some(s) => {
                let (Ok(mean), Ok(scale)) = (
                    <[f64; N_FEATURES]>::try_from(s.mean.as_slice()),
                    <[f64; N_FEATURES]>::try_from(s.scale.as_slice()),
                ) else {
                    return bad("its scaling does not have six means and six scales".into());
                };
                if !mean.iter().all(|v| v.is_finite())
                    || !scale.iter().all(|v| v.is_finite() && *v != 0.0)
                {
                    return bad("its scaling has a non-finite mean or a zero scale".into());
                }
                Some((mean, scale))
            }
        };
        let trees3: Vec<Tree3> = if t.depth == 3 {
            t.feature
                .chunks_exact(7)
                .zip(t.threshold.chunks_exact(7))
                .zip(t.leaf.chunks_exact(8))
                .map(|((f, th), l)| Tree3 {
                    threshold: th.try_into().unwrap_or([f64::MAX; 7]),
                    feature: f.try_into().unwrap_or([0; 7]),
                    leaf: l.try_into().unwrap_or([0.0; 8]),
                })
                .collect()
        } else {
            Vec::new()
        };
        let ranked = (!trees3.is_empty())
            .then(|| ranked::Ranked::new(&trees3))
            .flatten()
            .map(std::sync::Arc::new);
        Ok(Model {
            version: artifact.model_version.clone(),
            depth: t.depth,
            internal,
            leaves,
            base: t.base_score,
            scaling,
            splits: t
                .feature
                .iter()
                .zip(&t.threshold)
                .map(|(f, threshold)| Split {
                    threshold: *threshold,
                    feature: usize::from(*f),
                })
                .collect(),
            leaf: t.leaf.clone(),
            trees3,
            ranked,
            artifact,
        })
    }

    /// The artifact's `model_version`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The artifact this model was built from (metadata and metrics).
    pub fn artifact(&self) -> &Artifact {
        &self.artifact
    }

    fn scaled(&self, row: &Row) -> [f64; N_FEATURES] {
        let mut x = *row.values();
        if let Some((mean, scale)) = &self.scaling {
            for i in 0..N_FEATURES {
                x[i] = (x[i] - mean[i]) / scale[i];
            }
        }
        x
    }

    fn trees(&self) -> impl Iterator<Item = (&[Split], &[f64])> {
        self.splits
            .chunks_exact(self.internal)
            .zip(self.leaf.chunks_exact(self.leaves))
    }

    /// Sums every tree for one row: the general path, for depths other than 3.
    fn sum(&self, x: &[f64; N_FEATURES]) -> f64 {
        self.trees().fold(self.base, |sum, (splits, leaves)| {
            sum + walk(splits, leaves, self.depth, x)
        })
    }

    /// Predicted MEDV (median value, in $1000s) for one house. Allocates nothing.
    #[inline]
    pub fn predict(&self, row: &Row) -> f64 {
        self.predict_with(Kernel::detect(), row)
    }

    /// [`Model::predict`] tree by tree, the way every kernel is checked against.
    #[inline]
    fn predict_walked(&self, row: &Row) -> f64 {
        let x = self.scaled(row);
        if self.trees3.is_empty() {
            self.sum(&x)
        } else {
            let x = padded(&x);
            self.trees3
                .iter()
                .fold(self.base, |sum, t| sum + walk3(t, &x))
        }
    }

    /// One row through the kernel's one-row build (see `Ranked::score_row_avx2`), when it
    /// has one: the bits [`Model::predict_walked`] gives.
    #[inline]
    fn predict_with(&self, kernel: Kernel, row: &Row) -> f64 {
        if let Some(ranked) = &self.ranked
            && let Some(sum) = kernel.score_row(ranked, self.base, &self.scaled(row))
        {
            return sum;
        }
        self.predict_walked(row)
    }

    /// Predicts every row into `out` (cleared first), reusing its allocation. Gives exactly
    /// what [`Model::predict`] gives each row: trees are added in the same order.
    ///
    /// A batch of [`PARALLEL_ROWS`] or more is split in two and the halves scored on two
    /// threads, so a large request uses both cores of a small plan; rows are independent, so
    /// the bits are the same.
    pub fn predict_into(&self, rows: &[Row], out: &mut Vec<f64>) {
        let kernel = Kernel::detect();
        out.clear();
        out.resize(rows.len(), self.base);
        if rows.len() < PARALLEL_ROWS || cores() < 2 {
            return self.score_into(kernel, rows, out);
        }
        // Split on a block boundary so each half keeps whole blocks of either kernel.
        let block = COLUMNS.max(ranked::BLOCK_ROWS);
        let half = rows.len() / 2 / block * block;
        let (first_rows, second_rows) = rows.split_at(half);
        let (first_out, second_out) = out.split_at_mut(half);
        crate::parallel::join(
            || self.score_into(kernel, first_rows, first_out),
            || self.score_into(kernel, second_rows, second_out),
        );
    }

    /// One thread, the given kernel: for the tests that compare kernels.
    #[cfg(test)]
    pub(crate) fn predict_into_with(&self, kernel: Kernel, rows: &[Row], out: &mut Vec<f64>) {
        out.clear();
        out.resize(rows.len(), self.base);
        self.score_into(kernel, rows, out);
    }

    /// Adds every tree to `out` (which holds the base score), one row per value.
    fn score_into(&self, kernel: Kernel, rows: &[Row], out: &mut [f64]) {
        // A few rows (the one of a one-row request) are scored one by one, with no block's
        // buffers to set up.
        if rows.len() < FEW_ROWS {
            for (row, out) in rows.iter().zip(out.iter_mut()) {
                *out = self.predict_with(kernel, row);
            }
            return;
        }
        if let (true, Some(ranked)) = (kernel.ranked(), &self.ranked) {
            return self.score_ranked(kernel, ranked, rows, out);
        }
        if !self.trees3.is_empty() {
            let mut cols: Columns = [[0.0; COLUMNS]; 8];
            for (rows, out) in rows.chunks(COLUMNS).zip(out.chunks_mut(COLUMNS)) {
                // A few rows (the one of a one-row request) are cheaper walked one by one
                // than scored as a whole block: the same bits either way.
                if rows.len() < FEW_ROWS {
                    for (row, out) in rows.iter().zip(out.iter_mut()) {
                        *out = self.predict_with(kernel, row);
                    }
                    continue;
                }
                // A short last block scores what its unused lanes last held, then drops it.
                for (i, row) in rows.iter().enumerate() {
                    for (f, v) in self.scaled(row).into_iter().enumerate() {
                        cols[f][i] = v;
                    }
                }
                let mut sums = [self.base; COLUMNS];
                kernel.score3(&self.trees3, &cols, &mut sums);
                out.copy_from_slice(&sums[..out.len()]);
            }
            return;
        }
        let mut block = [[0.0; N_FEATURES]; BLOCK];
        for (rows, sums) in rows.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
            let xs = &mut block[..rows.len()];
            for (x, row) in xs.iter_mut().zip(rows) {
                *x = self.scaled(row);
            }
            for (splits, leaves) in self.trees() {
                for (x, sum) in xs.iter().zip(sums.iter_mut()) {
                    *sum += walk(splits, leaves, self.depth, x);
                }
            }
        }
    }

    /// [`Model::score_into`] through the rank kernel.
    fn score_ranked(&self, kernel: Kernel, ranked: &ranked::Ranked, rows: &[Row], out: &mut [f64]) {
        let mut ranks: ranked::Ranks = [[0; ranked::BLOCK_ROWS]; 8];
        let mut xs = [[0.0; N_FEATURES]; ranked::BLOCK_ROWS];
        for (rows, out) in rows
            .chunks(ranked::BLOCK_ROWS)
            .zip(out.chunks_mut(ranked::BLOCK_ROWS))
        {
            if rows.len() < FEW_ROWS {
                for (row, out) in rows.iter().zip(out.iter_mut()) {
                    *out = self.predict_with(kernel, row);
                }
                continue;
            }
            for (x, row) in xs.iter_mut().zip(rows) {
                *x = self.scaled(row);
            }
            // A short last block scores what its unused lanes last held, then drops it.
            kernel.score_ranked(ranked, self.base, &xs[..rows.len()], &mut ranks, out);
        }
    }

    /// Predicts every row.
    pub fn predict_all(&self, rows: &[Row]) -> Vec<f64> {
        let mut out = Vec::with_capacity(rows.len());
        self.predict_into(rows, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same values to the bit, and as many.
    fn same_bits(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits())
    }

    fn first_row() -> Row {
        Row::new([0.0, 6.575, 296.0, 15.3, 396.9, 4.98]).unwrap()
    }

    #[test]
    fn embedded_artifact_loads() {
        let m = Model::embedded().unwrap();
        assert_eq!(m.artifact().features, FEATURES);
        assert!(!m.version().is_empty());
    }

    #[test]
    fn first_training_row_gets_a_plausible_price() {
        // Its true MEDV is 24.0.
        let p = Model::embedded().unwrap().predict(&first_row());
        assert!((p - 24.0).abs() < 3.0, "prediction {p}");
    }

    #[test]
    fn different_rows_get_different_predictions() {
        // The Flask sample refitted its scaler per request, so every single row scaled
        // to zeros and got the same answer. Stored (or no) scaling makes that impossible.
        let m = Model::embedded().unwrap();
        let rich = Row::new([0.0, 7.8, 250.0, 14.0, 396.9, 2.0]).unwrap();
        let poor = Row::new([0.0, 5.2, 666.0, 20.2, 300.0, 25.0]).unwrap();
        let (a, b, c) = (m.predict(&first_row()), m.predict(&rich), m.predict(&poor));
        assert!(a != b && b != c && a != c, "{a} {b} {c}");
        assert!(b > a && a > c, "richer areas should cost more: {a} {b} {c}");
    }

    #[test]
    fn batch_prediction_equals_row_by_row_prediction_to_the_bit() {
        let m = Model::embedded().unwrap();
        let rows: Vec<Row> = (0..150)
            .map(|i| {
                let f = i as f64 / 150.0;
                Row::new([
                    (i % 2) as f64,
                    4.0 + 4.0 * f,
                    200.0 + 500.0 * f,
                    13.0 + 8.0 * f,
                    390.0 * f,
                    2.0 + 30.0 * f,
                ])
                .unwrap()
            })
            .collect();
        let one_by_one: Vec<f64> = rows.iter().map(|r| m.predict_walked(r)).collect();
        assert_eq!(m.predict_all(&rows), one_by_one);
    }

    #[test]
    fn a_batch_split_over_two_threads_gives_the_same_bits() {
        let m = Model::embedded().unwrap();
        let rows: Vec<Row> = (0..PARALLEL_ROWS * 2 + 7)
            .map(|i| {
                let f = (i % 101) as f64 / 101.0;
                Row::new([
                    (i % 2) as f64,
                    4.0 + 4.0 * f,
                    200.0 + 500.0 * f,
                    13.0,
                    390.0 * f,
                    2.0 + 30.0 * f,
                ])
                .unwrap()
            })
            .collect();
        let one_by_one: Vec<f64> = rows.iter().map(|r| m.predict_walked(r)).collect();
        let batch = m.predict_all(&rows);
        assert!(same_bits(&batch, &one_by_one));
        assert_eq!(batch.len(), rows.len());
    }

    #[test]
    fn every_kernel_gives_each_row_the_bits_predict_gives_it() {
        let m = Model::embedded().unwrap();
        // Rows on every split's threshold (where `>` and `>=` differ), just beside it, and a
        // few more so that the last column block is short.
        let mut rows: Vec<Row> = Vec::new();
        for t in &m.trees3 {
            for (n, threshold) in t.threshold.iter().enumerate() {
                for x in [*threshold, threshold.next_down(), threshold.next_up()] {
                    let mut v = [0.0, 6.575, 296.0, 15.3, 396.9, 4.98];
                    v[usize::from(t.feature[n])] = x;
                    if let Ok(row) = Row::new(v) {
                        rows.push(row);
                    }
                }
            }
        }
        assert!(rows.len() > 7_000, "{}", rows.len());
        // A short last block, but one the kernels score (not walked row by row).
        while rows.len() % COLUMNS.max(ranked::BLOCK_ROWS) != FEW_ROWS + 5 {
            let rm = 4.0 + rows.len() as f64 % 5.0;
            rows.push(Row::new([1.0, rm, 296.0, 15.3, 396.9, 4.98]).unwrap());
        }
        let one_by_one: Vec<f64> = rows.iter().map(|r| m.predict_walked(r)).collect();
        for kernel in Kernel::available() {
            let mut out = Vec::new();
            // Every batch size up to two blocks of the widest kernel, then the whole set.
            for n in 0..2 * COLUMNS.max(ranked::BLOCK_ROWS) {
                m.predict_into_with(kernel, &rows[..n], &mut out);
                assert!(same_bits(&out, &one_by_one[..n]));
                assert_eq!(out.len(), n);
            }
            m.predict_into_with(kernel, &rows, &mut out);
            assert!(
                same_bits(&out, &one_by_one),
                "{kernel:?} differs from predict"
            );
            let alone: Vec<f64> = rows.iter().map(|r| m.predict_with(kernel, r)).collect();
            assert!(
                same_bits(&alone, &one_by_one),
                "{kernel:?}'s one-row build differs from predict"
            );
        }
    }

    #[test]
    fn every_kernel_agrees_on_a_model_with_awkward_thresholds() {
        // Thresholds the embedded model lacks: whole groups of 16 (feature 1: 32 of them),
        // a group and one more (feature 0: 17), infinities, both zeros, the extremes and a
        // subnormal (feature 2), one value many times (feature 3), none at all (feature 4).
        let mut a: Artifact = serde_json::from_str(EMBEDDED_ARTIFACT).unwrap();
        let pools: [(u8, Vec<f64>); 5] = [
            (0, (0..17).map(|i| f64::from(i) / 8.0).collect()),
            (1, (0..32).map(|i| 4.0 + f64::from(i) / 8.0).collect()),
            (
                2,
                vec![
                    f64::NEG_INFINITY,
                    f64::INFINITY,
                    0.0,
                    -0.0,
                    f64::MAX,
                    f64::MIN,
                    f64::MIN_POSITIVE,
                    5e-324,
                    300.0,
                ],
            ),
            (3, vec![15.3]),
            (5, (0..16).map(|i| f64::from(i) * 2.0).collect()),
        ];
        let count = 40;
        let (mut feature, mut threshold) = (Vec::new(), Vec::new());
        for n in 0..count * 7 {
            let (f, pool) = &pools[n % pools.len()];
            feature.push(*f);
            threshold.push(pool[(n / pools.len()) % pool.len()]);
        }
        a.trees = Trees {
            depth: 3,
            count,
            base_score: 20.0,
            feature,
            threshold,
            leaf: (0..count * 8).map(|i| (i as f64).sin()).collect(),
        };
        a.scaling = None;
        let m = Model::from_artifact(a).unwrap();
        assert!(m.ranked.is_some());
        let mut rows = Vec::new();
        let mut rng = crate::test_rng::Rng(0x2545_F491_4F6C_DD1D);
        for (f, pool) in &pools {
            for t in pool {
                for x in [*t, t.next_down(), t.next_up(), -*t] {
                    let mut v = [1.0, 6.0, 300.0, 15.3, 1.0, 10.0];
                    v[usize::from(*f)] = x;
                    if let Ok(row) = Row::new(v) {
                        rows.push(row);
                    }
                }
            }
        }
        for _ in 0..1000 {
            let mut v = [0.0; N_FEATURES];
            for (i, x) in v.iter_mut().enumerate() {
                *x = (rng.below(4000) as f64 - 500.0) / 8.0 * (i + 1) as f64;
            }
            // CHAS is 0 or 1.
            v[0] = rng.below(2) as f64;
            rows.push(Row::new(v).unwrap());
        }
        let one_by_one: Vec<f64> = rows.iter().map(|r| m.predict_walked(r)).collect();
        for kernel in Kernel::available() {
            let mut out = Vec::new();
            m.predict_into_with(kernel, &rows, &mut out);
            assert!(
                same_bits(&out, &one_by_one),
                "{kernel:?} differs from predict"
            );
            let alone: Vec<f64> = rows.iter().map(|r| m.predict_with(kernel, r)).collect();
            assert!(
                same_bits(&alone, &one_by_one),
                "{kernel:?}'s one-row build differs from predict"
            );
        }
    }

    #[test]
    fn the_one_row_build_adds_a_last_short_group_of_trees_and_nothing_more() {
        // 40 trees: two whole groups of sixteen and eight more. Each tree's leaves are its
        // number plus a little, so a tree added twice, skipped or out of order shows.
        let mut a: Artifact = serde_json::from_str(EMBEDDED_ARTIFACT).unwrap();
        let count = 40;
        a.trees = Trees {
            depth: 3,
            count,
            base_score: 0.1,
            feature: (0..count * 7).map(|n| (n % 6) as u8).collect(),
            threshold: (0..count * 7).map(|n| (n % 13) as f64).collect(),
            leaf: (0..count * 8)
                .map(|i| (i / 8) as f64 * 1e3 + (i % 8) as f64 * 1e-3)
                .collect(),
        };
        a.scaling = None;
        let m = Model::from_artifact(a).unwrap();
        for v in [0.5, 3.0, 6.5, 12.5] {
            let row = Row::new([1.0, v, v, v, v, v]).unwrap();
            for kernel in Kernel::available() {
                assert_eq!(
                    m.predict_with(kernel, &row).to_bits(),
                    m.predict_walked(&row).to_bits(),
                    "{kernel:?}, {v}"
                );
            }
        }
    }

    #[test]
    fn the_general_path_for_other_depths_agrees_with_itself_in_batches() {
        let mut a: Artifact = serde_json::from_str(EMBEDDED_ARTIFACT).unwrap();
        // Two trees of depth 2 over RM and LSTAT.
        a.trees = Trees {
            depth: 2,
            count: 2,
            base_score: 20.0,
            feature: vec![1, 5, 5, 5, 1, 1],
            threshold: vec![6.5, 10.0, 5.0, 15.0, 6.0, 7.0],
            leaf: vec![1.0, 2.0, 3.0, 4.0, -1.0, -2.0, -3.0, -4.0],
        };
        let m = Model::from_artifact(a).unwrap();
        let row = |rm, lstat| Row::new([0.0, rm, 1.0, 1.0, 1.0, lstat]).unwrap();
        // Tree 1: RM 6 <= 6.5 -> node 1 (LSTAT <= 10 -> leaf 0 = 1.0); tree 2: LSTAT 4 <= 15
        // -> node 1 (RM 6 <= 6 -> leaf 0 = -1.0).
        assert_eq!(m.predict(&row(6.0, 4.0)), 20.0);
        let rows: Vec<Row> = (0..100)
            .map(|i| row(5.0 + i as f64 / 30.0, i as f64 / 4.0))
            .collect();
        let one_by_one: Vec<f64> = rows.iter().map(|r| m.predict_walked(r)).collect();
        assert_eq!(m.predict_all(&rows), one_by_one);
    }

    #[test]
    fn a_tiny_hand_built_tree_is_walked_correctly() {
        let mut a: Artifact = serde_json::from_str(EMBEDDED_ARTIFACT).unwrap();
        // One tree of depth 1: RM <= 6 goes left (10), otherwise right (20).
        a.trees = Trees {
            depth: 1,
            count: 1,
            base_score: 1.0,
            feature: vec![1],
            threshold: vec![6.0],
            leaf: vec![10.0, 20.0],
        };
        a.scaling = None;
        let m = Model::from_artifact(a).unwrap();
        let row = |rm| Row::new([0.0, rm, 1.0, 1.0, 1.0, 1.0]).unwrap();
        assert_eq!(m.predict(&row(5.0)), 11.0);
        assert_eq!(m.predict(&row(6.0)), 11.0);
        assert_eq!(m.predict(&row(6.5)), 21.0);
    }

    #[test]
    fn mismatched_artifacts_are_refused_with_one_sentence() {
        let good: Artifact = serde_json::from_str(EMBEDDED_ARTIFACT).unwrap();
        let mut wrong_features = good.clone();
        wrong_features.features.swap(0, 1);
        let mut wrong_version = good.clone();
        wrong_version.schema_version = 99;
        let mut short = good.clone();
        short.trees.leaf.pop();
        let mut bad_index = good.clone();
        bad_index.trees.feature[0] = 6;
        for a in [wrong_features, wrong_version, short, bad_index] {
            let e = Model::from_artifact(a).unwrap_err().to_string();
            assert!(e.starts_with("the model artifact does not match"), "{e}");
            assert!(!e.contains('\n'));
        }
        assert!(matches!(
            Model::from_json("{\"schema_version\":1}"),
            Err(ModelError::Json(_))
        ));
        assert!(matches!(
            Model::from_file(Path::new("/nonexistent/model.json")),
            Err(ModelError::Read { .. })
        ));
    }
}
