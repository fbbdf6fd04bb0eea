//! The house-price domain, shared by the App Service web app and the Functions handler.
//!
//! Data flows one way: raw bytes are parsed once into validated [`features::Row`]s
//! ([`input`]), the [`model::Model`] turns rows into prices, and [`api`] renders the
//! answer or the error. Nothing here knows about a web framework or the Functions host.
#![warn(missing_docs)]

pub mod api;
pub mod csv_stream;
pub mod features;
pub mod input;
pub mod jobs;
pub mod model;
pub mod parallel;
#[cfg(test)]
mod test_rng;
pub mod uploads;

pub use features::{FEATURES, N_FEATURES, Row};
pub use model::Model;
