//! Trains the house-price model and writes the artifact that `house-price` embeds.
//!
//! Everything is deterministic: the data is compiled into smartcore, the trees come from
//! [`gbrt`] (exhaustive splits, fixed tie-breaking, no randomness), the cross-validation
//! shuffle from a seeded [`cv::SplitMix64`], and the JSON from serde_json's shortest
//! round-trip floats. Running the trainer twice gives the same bytes, which is what lets
//! a test (and `--check` in CI) prove the committed artifact is what this code makes.
#![warn(missing_docs)]

pub mod boston;
pub mod cv;
pub mod gbrt;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use house_price::model::{Artifact, SCHEMA_VERSION, TrainingInfo, Trees};
use house_price::{FEATURES, Model};

use crate::boston::Data;
use crate::gbrt::{Ensemble, FitError, Params, storable};

/// The boosting settings of the shipped model.
pub const PARAMS: Params = Params {
    n_trees: 400,
    max_depth: 3,
    learning_rate: 0.1,
};

/// Cross-validation folds.
pub const FOLDS: usize = 5;

/// Seed of the cross-validation shuffle.
pub const SEED: u64 = 42;

/// What the model predicts, recorded in the artifact.
pub const TARGET: &str = "MEDV: median value of owner-occupied homes, in $1000s";

/// The loss, named as scikit-learn names it.
pub const LOSS: &str = "squared_error";

/// Prefix of `model_version`; the rest is a hash of the trees.
pub const VERSION_PREFIX: &str = "boston-gbrt-v1-";

/// Why training, writing or checking failed. Each message is one sentence.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The command line is wrong.
    #[error("{0}; run with --help for usage")]
    Usage(String),
    /// The training data is not what this program expects.
    #[error("the Boston data is not as expected: {0}")]
    Data(String),
    /// Cross-validation cannot fold this many rows this many ways.
    #[error("{folds} folds cannot be made from {rows} rows")]
    Folds {
        /// Requested folds.
        folds: usize,
        /// Rows available.
        rows: usize,
    },
    /// The booster refused the data.
    #[error("training failed: {0}")]
    Fit(#[from] FitError),
    /// The artifact could not be serialised.
    #[error("cannot serialise the artifact: {0}")]
    Json(#[from] serde_json::Error),
    /// `house-price` rejected what was trained.
    #[error("house-price refuses the trained artifact: {0}")]
    Model(#[from] house_price::model::ModelError),
    /// `house-price` inference and the trainer disagree, so the layouts differ.
    #[error(
        "house-price predicts {served} for training row {row} but the trainer computed {trained}"
    )]
    Disagree {
        /// The row.
        row: usize,
        /// What `house_price::Model::predict` gave.
        served: f64,
        /// What the trainer's own ensemble gave.
        trained: f64,
    },
    /// The artifact file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The artifact file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// `--check` found a different file.
    #[error(
        "{path} differs from what training produces; run `cargo run --release -p train` to regenerate it"
    )]
    Differs {
        /// The file.
        path: String,
    },
}

/// A trained model: the artifact and its exact file contents.
#[derive(Clone, Debug)]
pub struct Trained {
    /// The artifact, metrics included.
    pub artifact: Artifact,
    /// Pretty-printed JSON with a trailing newline, byte for byte what is committed.
    pub json: String,
}

/// Where the committed artifact lives: `house-price/model/` next to this crate.
pub fn default_artifact_path() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .unwrap_or(manifest)
        .join("house-price")
        .join("model")
        .join("house-price-model.json")
}

/// 64-bit FNV-1a: a stable, dependency-free fingerprint (not a security hash).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A name that changes whenever the trees do: the prefix and 8 hex digits of the FNV-1a
/// hash of the compact JSON of `trees`.
pub fn model_version(trees: &Trees) -> Result<String, TrainError> {
    let hash = fnv1a64(serde_json::to_string(trees)?.as_bytes());
    Ok(format!("{VERSION_PREFIX}{:08x}", hash >> 32))
}

/// Trains on all of `data`, cross-validates the same procedure, and assembles the
/// artifact. Fails if `house-price` would not load the result or would predict any
/// training row differently from the trainer.
pub fn train(data: &Data) -> Result<Trained, TrainError> {
    let ensemble = gbrt::fit(&data.x, &data.y, &PARAMS)?;
    let fitted: Vec<f64> = data.x.iter().map(|r| ensemble.predict(r)).collect();
    // Metrics are rounded like the trees, so the whole artifact survives a JSON round trip.
    let train_rmse = storable(cv::rmse(&fitted, &data.y));
    let mut cross_validation = cv::cross_validate(&data.x, &data.y, &PARAMS, FOLDS, SEED)?;
    for r in &mut cross_validation.fold_rmse {
        *r = storable(*r);
    }
    cross_validation.rmse = storable(
        cross_validation.fold_rmse.iter().sum::<f64>() / cross_validation.fold_rmse.len() as f64,
    );

    let Ensemble {
        depth,
        count,
        base_score,
        feature,
        threshold,
        leaf,
    } = ensemble;
    let trees = Trees {
        depth,
        count,
        base_score,
        feature,
        threshold,
        leaf,
    };
    let artifact = Artifact {
        schema_version: SCHEMA_VERSION,
        model_version: model_version(&trees)?,
        features: FEATURES.iter().map(|f| f.to_string()).collect(),
        target: TARGET.to_string(),
        training: TrainingInfo {
            dataset: format!("{}, {} rows", boston::DATASET, data.y.len()),
            rows: data.y.len(),
            loss: LOSS.to_string(),
            n_trees: PARAMS.n_trees,
            max_depth: PARAMS.max_depth,
            learning_rate: PARAMS.learning_rate,
            train_rmse,
            cross_validation,
        },
        // Trees split on raw values, so there is nothing to scale.
        scaling: None,
        trees,
    };

    let json = render(&artifact)?;
    let model = Model::from_json(&json)?;
    for (row, (r, trained)) in data.rows.iter().zip(&fitted).enumerate() {
        let served = model.predict(r);
        if served.to_bits() != trained.to_bits() {
            return Err(TrainError::Disagree {
                row,
                served,
                trained: *trained,
            });
        }
    }
    Ok(Trained { artifact, json })
}

/// The artifact as committed: pretty-printed JSON and a trailing newline.
pub fn render(artifact: &Artifact) -> Result<String, TrainError> {
    let mut json = serde_json::to_string_pretty(artifact)?;
    json.push('\n');
    Ok(json)
}

/// What the command line asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Train and write the artifact to this path.
    Write(PathBuf),
    /// Train and compare with the artifact at this path, writing nothing.
    Check(PathBuf),
    /// Print usage.
    Help,
}

/// Usage text for `--help`.
pub const USAGE: &str = "\
Usage: train [--out PATH] [--check]

Trains the house-price model on the Boston data and writes the artifact
(default: house-price/model/house-price-model.json in this workspace).

  --out PATH  write to (or with --check, compare against) PATH instead
  --check     compare with the existing file instead of writing; exit 1 if it differs
  -h, --help  show this help
";

/// Parses the arguments after the program name.
pub fn parse_args<I: IntoIterator<Item = OsString>>(args: I) -> Result<Command, TrainError> {
    let mut out = None;
    let mut check = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("-h" | "--help") => return Ok(Command::Help),
            Some("--check") => check = true,
            Some("--out") => match args.next() {
                Some(path) if !path.is_empty() => out = Some(PathBuf::from(path)),
                _ => return Err(TrainError::Usage("--out needs a file path".into())),
            },
            _ => {
                return Err(TrainError::Usage(format!(
                    "unexpected argument {}",
                    arg.to_string_lossy()
                )));
            }
        }
    }
    let path = out.unwrap_or_else(default_artifact_path);
    Ok(if check {
        Command::Check(path)
    } else {
        Command::Write(path)
    })
}

/// Runs a command, reporting metrics and the outcome on `stdout`.
pub fn run(command: &Command, stdout: &mut impl Write) -> Result<(), TrainError> {
    let (path, check) = match command {
        Command::Help => {
            // A closed stdout is not worth failing over.
            let _ = stdout.write_all(USAGE.as_bytes());
            return Ok(());
        }
        Command::Write(path) => (path, false),
        Command::Check(path) => (path, true),
    };
    let shown = path.display().to_string();
    // Read before training, so a wrong path fails at once.
    let existing = if check {
        Some(std::fs::read(path).map_err(|source| TrainError::Read {
            path: shown.clone(),
            source,
        })?)
    } else {
        None
    };
    let trained = train(&boston::load()?)?;
    let t = &trained.artifact.training;
    let _ = writeln!(
        stdout,
        "{}: {}-fold CV RMSE {:.4} (folds {}), train RMSE {:.4}",
        trained.artifact.model_version,
        t.cross_validation.folds,
        t.cross_validation.rmse,
        t.cross_validation
            .fold_rmse
            .iter()
            .map(|r| format!("{r:.4}"))
            .collect::<Vec<_>>()
            .join(", "),
        t.train_rmse
    );
    match existing {
        Some(existing) if existing != trained.json.as_bytes() => {
            return Err(TrainError::Differs { path: shown });
        }
        Some(_) => {
            let _ = writeln!(stdout, "{shown} is up to date");
        }
        None => {
            write_atomically(path, trained.json.as_bytes())?;
            let _ = writeln!(stdout, "wrote {shown}");
        }
    }
    Ok(())
}

/// Writes through a temporary file and a rename, so a concurrent build that embeds the
/// artifact never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let err = |source| TrainError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        // From the FNV reference test suite (http://www.isthe.com/chongo/tech/comp/fnv/).
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn the_command_line_is_parsed_strictly() {
        let default = default_artifact_path();
        assert!(default.ends_with("house-price/model/house-price-model.json"));
        assert_eq!(
            parse_args(args(&[])).unwrap(),
            Command::Write(default.clone())
        );
        assert_eq!(
            parse_args(args(&["--check"])).unwrap(),
            Command::Check(default)
        );
        assert_eq!(
            parse_args(args(&["--check", "--out", "x.json"])).unwrap(),
            Command::Check("x.json".into())
        );
        assert_eq!(
            parse_args(args(&["--out", "y.json"])).unwrap(),
            Command::Write("y.json".into())
        );
        assert_eq!(parse_args(args(&["--help"])).unwrap(), Command::Help);
        for bad in [
            &["--out"][..],
            &["--out", ""],
            &["--frobnicate"],
            &["model.json"],
        ] {
            let e = parse_args(args(bad)).unwrap_err().to_string();
            assert!(e.ends_with("run with --help for usage"), "{e}");
        }
    }

    #[test]
    fn help_prints_usage_without_training() {
        let mut out = Vec::new();
        run(&Command::Help, &mut out).unwrap();
        assert_eq!(out, USAGE.as_bytes());
    }
}
