//! Settings, read once from the environment at startup.
//!
//! App Service passes configuration as environment variables (app settings), so that is
//! the only source. Every variable is optional; a value that is set but unusable is an
//! error naming the variable, never a silent fallback to the default.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use house_price::api::Limits;
use house_price::jobs::MAX_JOB_ROWS;
use house_price::model::{MODEL_PATH_VAR, Model, ModelError};
use storage::{SettingsError, StorageSettings};

/// Port App Service routes to when it does not set `PORT`.
pub const DEFAULT_PORT: u16 = 8080;

/// The app-setting prefix of the storage connection, shared with the Functions app so both
/// read the same account: `AzureWebJobsStorage` or `AzureWebJobsStorage__accountName` & co.
pub const STORAGE_PREFIX: &str = "AzureWebJobsStorage";

/// Limits of `POST /jobs` unless `MAX_JOB_BODY_BYTES` / `MAX_JOB_ROWS` say otherwise: the
/// same as the Functions app's `submit-job`.
pub const DEFAULT_JOB_LIMITS: Limits = Limits {
    // 100,000 rows of pandas JSON are about 10 MiB.
    max_body_bytes: 16 << 20,
    max_rows: MAX_JOB_ROWS,
};

/// How long a request body may take to arrive unless `BODY_TIMEOUT_SECS` says otherwise:
/// a 16 MiB job at 10 Mbit/s takes 14 s. A slower body gets a 408 and its connection closed,
/// so slow clients cannot hold connections open for ever.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(20);

/// `POST /jobs` per client and minute unless `JOB_SUBMISSIONS_PER_MINUTE` says otherwise.
pub const DEFAULT_JOB_SUBMISSIONS_PER_MINUTE: u32 = 30;
/// `GET /jobs/{id}` per client and minute unless `JOB_STATUS_CHECKS_PER_MINUTE` says
/// otherwise: the page asks every 500 ms, 120 a minute per job it waits for.
pub const DEFAULT_JOB_STATUS_CHECKS_PER_MINUTE: u32 = 600;

/// The largest file `POST /uploads` takes unless `MAX_UPLOAD_BYTES` says otherwise: 256 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 256 << 20;

/// Everything the server needs to start.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Address to listen on: all interfaces in App Service, loopback in tests (`BIND_ADDRESS`).
    pub bind_address: IpAddr,
    /// TCP port (`PORT`); 0 picks a free one, which tests use.
    pub port: u16,
    /// Request size limits of `/predict` (`MAX_BODY_BYTES`, `MAX_ROWS`).
    pub limits: Limits,
    /// Request size limits of `POST /jobs` (`MAX_JOB_BODY_BYTES`, `MAX_JOB_ROWS`).
    pub job_limits: Limits,
    /// The largest file `POST /uploads` takes (`MAX_UPLOAD_BYTES`).
    pub max_upload_bytes: usize,
    /// The storage account background jobs go through ([`STORAGE_PREFIX`]); `None` turns
    /// the `/jobs` routes off (they answer 503) and leaves the rest of the app as it is.
    pub storage: Option<StorageSettings>,
    /// How long a request body may take to arrive, from the end of its headers
    /// (`BODY_TIMEOUT_SECS`).
    pub body_timeout: Duration,
    /// Job submissions per client and minute (`JOB_SUBMISSIONS_PER_MINUTE`); 0 turns the
    /// limit off.
    pub job_submissions_per_minute: u32,
    /// Job status checks per client and minute (`JOB_STATUS_CHECKS_PER_MINUTE`); 0 turns the
    /// limit off.
    pub job_status_checks_per_minute: u32,
    /// How many proxies in front of the app append to `X-Forwarded-For`
    /// (`FORWARDED_FOR_HOPS`): 1 on App Service, 2 behind Front Door too, 0 to ignore the
    /// header and limit by the connection's address.
    pub forwarded_for_hops: usize,
    /// Model artifact to load instead of the embedded one (`MODEL_PATH`).
    pub model_path: Option<PathBuf>,
    /// Worker threads (`WORKERS`); `None` lets actix use one per core.
    pub workers: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: DEFAULT_PORT,
            limits: Limits::default(),
            job_limits: DEFAULT_JOB_LIMITS,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            storage: None,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            job_submissions_per_minute: DEFAULT_JOB_SUBMISSIONS_PER_MINUTE,
            job_status_checks_per_minute: DEFAULT_JOB_STATUS_CHECKS_PER_MINUTE,
            forwarded_for_hops: 1,
            model_path: None,
            workers: None,
        }
    }
}

/// A variable that is set to something unusable. `Display` is one sentence.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not a number in the accepted range.
    #[error("{var} must be {expected}, but it is \"{value}\"")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What it must be, e.g. "a port number from 0 to 65535".
        expected: &'static str,
        /// The value found.
        value: String,
    },
    /// The storage connection is set but unusable; the message names the setting.
    #[error(transparent)]
    Storage(SettingsError),
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_vars(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// Reads the settings through `var`, which returns a variable's value if it is set;
    /// tests pass a map here instead of changing the process environment.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let defaults = Settings::default();
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        Ok(Settings {
            bind_address: parse(
                "BIND_ADDRESS",
                set("BIND_ADDRESS"),
                "an IP address such as 0.0.0.0 or 127.0.0.1",
                |v| v.parse().ok(),
            )?
            .unwrap_or(defaults.bind_address),
            port: parse("PORT", set("PORT"), "a port number from 0 to 65535", |v| {
                v.parse().ok()
            })?
            .unwrap_or(defaults.port),
            limits: Limits {
                max_body_bytes: parse(
                    "MAX_BODY_BYTES",
                    set("MAX_BODY_BYTES"),
                    "a positive number of bytes",
                    positive,
                )?
                .unwrap_or(defaults.limits.max_body_bytes),
                max_rows: parse(
                    "MAX_ROWS",
                    set("MAX_ROWS"),
                    "a positive number of rows",
                    positive,
                )?
                .unwrap_or(defaults.limits.max_rows),
            },
            job_limits: Limits {
                max_body_bytes: parse(
                    "MAX_JOB_BODY_BYTES",
                    set("MAX_JOB_BODY_BYTES"),
                    "a positive number of bytes",
                    positive,
                )?
                .unwrap_or(defaults.job_limits.max_body_bytes),
                max_rows: parse(
                    "MAX_JOB_ROWS",
                    set("MAX_JOB_ROWS"),
                    "a positive number of rows",
                    positive,
                )?
                .unwrap_or(defaults.job_limits.max_rows),
            },
            max_upload_bytes: parse(
                "MAX_UPLOAD_BYTES",
                set("MAX_UPLOAD_BYTES"),
                "a positive number of bytes",
                positive,
            )?
            .unwrap_or(defaults.max_upload_bytes),
            storage: match StorageSettings::from_lookup(STORAGE_PREFIX, &var) {
                Ok(storage) => Some(storage),
                Err(SettingsError::NoConnection { .. }) => None,
                Err(e) => return Err(ConfigError::Storage(e)),
            },
            body_timeout: parse(
                "BODY_TIMEOUT_SECS",
                set("BODY_TIMEOUT_SECS"),
                "a positive number of seconds",
                positive,
            )?
            .map_or(defaults.body_timeout, |s| Duration::from_secs(s as u64)),
            job_submissions_per_minute: parse(
                "JOB_SUBMISSIONS_PER_MINUTE",
                set("JOB_SUBMISSIONS_PER_MINUTE"),
                "a number of requests (0 for no limit)",
                |v| v.parse().ok(),
            )?
            .unwrap_or(defaults.job_submissions_per_minute),
            job_status_checks_per_minute: parse(
                "JOB_STATUS_CHECKS_PER_MINUTE",
                set("JOB_STATUS_CHECKS_PER_MINUTE"),
                "a number of requests (0 for no limit)",
                |v| v.parse().ok(),
            )?
            .unwrap_or(defaults.job_status_checks_per_minute),
            forwarded_for_hops: parse(
                "FORWARDED_FOR_HOPS",
                set("FORWARDED_FOR_HOPS"),
                "a number of proxies (0 to ignore X-Forwarded-For)",
                |v| v.parse().ok(),
            )?
            .unwrap_or(defaults.forwarded_for_hops),
            model_path: var(MODEL_PATH_VAR)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            workers: parse(
                "WORKERS",
                set("WORKERS"),
                "a positive number of threads",
                positive,
            )?,
        })
    }

    /// Loads the model this deployment serves: `model_path` if set, the embedded one otherwise.
    pub fn load_model(&self) -> Result<Model, ModelError> {
        match &self.model_path {
            Some(path) => Model::from_file(path),
            None => Model::embedded(),
        }
    }
}

fn parse<T>(
    var: &'static str,
    value: Option<String>,
    expected: &'static str,
    read: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ConfigError> {
    value
        .map(|v| {
            read(v.trim()).ok_or(ConfigError::Invalid {
                var,
                expected,
                value: v,
            })
        })
        .transpose()
}

fn positive(v: &str) -> Option<usize> {
    v.parse().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn nothing_set_means_app_service_defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.port, 8080);
        assert_eq!(s.bind_address.to_string(), "0.0.0.0");
        assert_eq!(s.limits, Limits::default());
        assert_eq!(s.job_limits, DEFAULT_JOB_LIMITS);
        assert_eq!(s.job_limits.max_rows, MAX_JOB_ROWS);
        assert!(s.storage.is_none(), "no storage means jobs are off");
        assert_eq!(s.model_path, None);
        assert_eq!(s.workers, None);
        assert_eq!(s.body_timeout, Duration::from_secs(20));
        assert_eq!(s.job_submissions_per_minute, 30);
        assert_eq!(s.job_status_checks_per_minute, 600);
        assert_eq!(s.forwarded_for_hops, 1);
    }

    #[test]
    fn every_variable_is_read() {
        let s = settings(&[
            ("PORT", "3000"),
            ("BIND_ADDRESS", "127.0.0.1"),
            ("MAX_BODY_BYTES", "2048"),
            ("MAX_ROWS", "5"),
            ("MODEL_PATH", "/models/m.json"),
            ("WORKERS", "2"),
            ("MAX_JOB_BODY_BYTES", "4096"),
            ("MAX_JOB_ROWS", "7"),
            ("BODY_TIMEOUT_SECS", "3"),
            ("JOB_SUBMISSIONS_PER_MINUTE", "0"),
            ("JOB_STATUS_CHECKS_PER_MINUTE", "9"),
            ("FORWARDED_FOR_HOPS", "2"),
            ("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
        ])
        .unwrap();
        assert_eq!(s.body_timeout, Duration::from_secs(3));
        assert_eq!(s.job_submissions_per_minute, 0);
        assert_eq!(s.job_status_checks_per_minute, 9);
        assert_eq!(s.forwarded_for_hops, 2);
        assert_eq!(s.port, 3000);
        assert_eq!(s.bind_address.to_string(), "127.0.0.1");
        assert_eq!(
            s.limits,
            Limits {
                max_body_bytes: 2048,
                max_rows: 5
            }
        );
        assert_eq!(s.model_path, Some(PathBuf::from("/models/m.json")));
        assert_eq!(s.workers, Some(2));
        assert_eq!(
            s.job_limits,
            Limits {
                max_body_bytes: 4096,
                max_rows: 7
            }
        );
        let storage = s.storage.unwrap();
        assert_eq!(
            storage.queue_endpoint.as_str(),
            storage::settings::DEV_QUEUE_ENDPOINT
        );
    }

    #[test]
    fn an_identity_based_storage_connection_is_read_from_its_account_name() {
        let s = settings(&[("AzureWebJobsStorage__accountName", "housejobs")]).unwrap();
        let storage = s.storage.unwrap();
        assert_eq!(
            storage.queue_endpoint.as_str(),
            "https://housejobs.queue.core.windows.net/"
        );
    }

    #[test]
    fn a_storage_setting_that_is_set_but_unusable_is_refused_with_a_sentence() {
        let e = settings(&[("AzureWebJobsStorage", "AccountName=x")]).unwrap_err();
        assert!(matches!(e, ConfigError::Storage(_)), "{e:?}");
        let text = e.to_string();
        assert!(text.starts_with("AzureWebJobsStorage "), "{text}");
        assert_eq!(text.lines().count(), 1);
        assert!(settings(&[("MAX_JOB_ROWS", "0")]).is_err());
        assert!(settings(&[("MAX_JOB_BODY_BYTES", "lots")]).is_err());
        // Blank counts as unset, as App Service shows a deleted value.
        assert!(
            settings(&[("AzureWebJobsStorage", " ")])
                .unwrap()
                .storage
                .is_none()
        );
    }

    #[test]
    fn a_bad_value_is_refused_with_a_sentence_naming_the_variable() {
        let e = settings(&[("PORT", "eighty")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PORT must be a port number from 0 to 65535, but it is \"eighty\""
        );
        assert!(settings(&[("PORT", "70000")]).is_err());
        assert!(settings(&[("MAX_ROWS", "0")]).is_err());
        assert!(settings(&[("MAX_BODY_BYTES", "-1")]).is_err());
        assert!(settings(&[("BIND_ADDRESS", "localhost")]).is_err());
        assert_eq!(
            settings(&[("BODY_TIMEOUT_SECS", "0")])
                .unwrap_err()
                .to_string(),
            "BODY_TIMEOUT_SECS must be a positive number of seconds, but it is \"0\""
        );
    }

    #[test]
    fn the_embedded_model_loads_when_no_path_is_set() {
        assert!(Settings::default().load_model().is_ok());
        let missing = Settings {
            model_path: Some(PathBuf::from("/nonexistent/model.json")),
            ..Settings::default()
        };
        assert!(missing.load_model().is_err());
    }
}
