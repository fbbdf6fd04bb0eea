//! The embedded model, loaded once per fuzzing process (shared by the body targets).

use house_price::model::Model;
use std::sync::OnceLock;

pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::embedded().expect("the embedded model loads"))
}
