//! The App Service web app: `POST /predict`, background jobs (`POST /jobs`, `GET /jobs/{id}`,
//! scored by the Functions app through Azure Storage), `GET /health`, `GET /openapi.json` and
//! a page for people at `/`. Everything about houses lives in `house_price`; this crate is HTTP.
#![warn(missing_docs)]

pub mod access_log;
pub mod configuration;
pub mod errors;
pub mod openapi;
pub mod rate_limit;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
