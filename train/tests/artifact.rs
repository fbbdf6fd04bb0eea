//! The committed artifact is exactly what this crate trains, and `house-price` serves
//! exactly the model that was trained.

use std::sync::OnceLock;

use house_price::model::{Artifact, EMBEDDED_ARTIFACT};
use house_price::{Model, Row};
use train::boston::{self, Data};
use train::gbrt::{self, Ensemble};
use train::{FOLDS, PARAMS, SEED, Trained, cv};

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| boston::load().unwrap())
}

fn trained() -> &'static Trained {
    static TRAINED: OnceLock<Trained> = OnceLock::new();
    TRAINED.get_or_init(|| train::train(data()).unwrap())
}

fn committed() -> String {
    std::fs::read_to_string(train::default_artifact_path()).unwrap()
}

#[test]
fn training_reproduces_the_committed_artifact_byte_for_byte() {
    let fresh = &trained().json;
    assert!(
        *fresh == committed(),
        "house-price/model/house-price-model.json is stale: run `cargo run --release -p train`"
    );
    // And the servers embed that very file.
    assert_eq!(fresh, EMBEDDED_ARTIFACT);
    assert!(fresh.ends_with("}\n"));
}

#[test]
fn the_artifact_survives_a_json_round_trip_unchanged() {
    let parsed: Artifact = serde_json::from_str(EMBEDDED_ARTIFACT).unwrap();
    assert_eq!(parsed, trained().artifact);
    assert_eq!(train::render(&parsed).unwrap(), EMBEDDED_ARTIFACT);
}

#[test]
fn the_recorded_metrics_equal_what_recomputation_gives() {
    let recorded = Model::embedded().unwrap().artifact().training.clone();
    let d = data();

    // Train RMSE, recomputed through house-price's own inference.
    let served = Model::embedded().unwrap().predict_all(&d.rows);
    let train_rmse = gbrt::storable(cv::rmse(&served, &d.y));
    assert_eq!(recorded.train_rmse, train_rmse);

    // Cross-validation, recomputed from scratch.
    let again = cv::cross_validate(&d.x, &d.y, &PARAMS, FOLDS, SEED).unwrap();
    let folds: Vec<f64> = again.fold_rmse.iter().map(|r| gbrt::storable(*r)).collect();
    assert_eq!(recorded.cross_validation.fold_rmse, folds);
    let mean = folds.iter().sum::<f64>() / folds.len() as f64;
    assert_eq!(recorded.cross_validation.rmse, gbrt::storable(mean));
    assert_eq!(
        (
            recorded.cross_validation.folds,
            recorded.cross_validation.seed
        ),
        (FOLDS, SEED)
    );
    assert!(recorded.cross_validation.shuffled);

    // The settings recorded are the settings used.
    assert_eq!(recorded.rows, boston::ROWS);
    assert_eq!(recorded.n_trees, PARAMS.n_trees);
    assert_eq!(recorded.max_depth, PARAMS.max_depth);
    assert_eq!(recorded.learning_rate, PARAMS.learning_rate);
    assert!(
        recorded.dataset.contains("506 rows"),
        "{}",
        recorded.dataset
    );

    // Boosted trees on these six features land in scikit-learn's ballpark, and do
    // better on the data they saw than on held-out folds.
    let cv_rmse = recorded.cross_validation.rmse;
    assert!((2.5..4.5).contains(&cv_rmse), "CV RMSE {cv_rmse}");
    assert!(recorded.train_rmse < cv_rmse);
}

#[test]
fn house_price_predicts_every_training_row_exactly_as_the_trainer_does() {
    let d = data();
    let ensemble: Ensemble = gbrt::fit(&d.x, &d.y, &PARAMS).unwrap();
    let model = Model::embedded().unwrap();
    for (i, (row, x)) in d.rows.iter().zip(&d.x).enumerate() {
        let (served, trained) = (model.predict(row), ensemble.predict(x));
        assert_eq!(
            served.to_bits(),
            trained.to_bits(),
            "row {i}: {served} vs {trained}"
        );
    }
    let t = &model.artifact().trees;
    assert_eq!(
        (t.base_score, &t.feature, &t.threshold, &t.leaf),
        (
            ensemble.base_score,
            &ensemble.feature,
            &ensemble.threshold,
            &ensemble.leaf
        )
    );
}

#[test]
fn the_first_boston_row_is_priced_near_its_true_value() {
    let model = Model::from_json(EMBEDDED_ARTIFACT).unwrap();
    let first = Row::new([0.0, 6.575, 296.0, 15.3, 396.9, 4.98]).unwrap();
    let p = model.predict(&first);
    // Its true MEDV is 24.0.
    assert!((p - 24.0).abs() < 3.0, "prediction {p}");
    assert_eq!(data().rows[0], first);
}

#[test]
fn the_model_version_names_the_trees_and_needs_no_scaling() {
    let a = &Model::embedded().unwrap().artifact().clone();
    assert_eq!(a.model_version, train::model_version(&a.trees).unwrap());
    assert!(a.model_version.starts_with(train::VERSION_PREFIX));
    assert_eq!(a.model_version.len(), train::VERSION_PREFIX.len() + 8);
    assert_eq!(a.scaling, None);
    assert_eq!(
        (a.trees.count, a.trees.depth),
        (PARAMS.n_trees, PARAMS.max_depth)
    );
    let mut other = a.trees.clone();
    other.leaf[0] += 1.0;
    assert_ne!(train::model_version(&other).unwrap(), a.model_version);
}
