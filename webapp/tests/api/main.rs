//! HTTP-level tests of the web app, built as one test binary.

mod bad_input;
mod browser;
mod encodings;
mod errors;
mod health;
mod helpers;
mod jobs;
mod openapi;
mod page;
mod predict;
mod rate_limit;
mod shutdown;
mod slow_clients;
mod startup;
mod uploads;
