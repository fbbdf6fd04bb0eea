//! The serverless path end to end: HTTP → `submit-job` → queue → `score-job` → blob →
//! `job-status`, with the real handler under the local host, against Azurite.

mod bad_input;
mod fidelity;
mod helpers;
mod housekeeping;
mod instances;
mod jobs;
mod outage;
mod resilience;
mod uploads;
mod webapp_loop;
