//! Loading an app directory in the deployed layout: `host.json`, one folder per function with
//! its `function.json`, the handler executable, and the app settings.
//!
//! Every problem is a [`LoadError`] naming the file and the field, found before anything
//! starts, so a broken app fails at once instead of on its first invocation.

use crate::HostOptions;
use crate::error::LoadError;
use crate::settings::Settings;
use functions_custom_handler_protocol::function_json::{
    AuthLevel, Binding, DEFAULT_CONNECTION, FunctionJson,
};
use functions_custom_handler_protocol::host_json::HostJson;
use functions_custom_handler_protocol::route::RouteTemplate;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use storage::StorageSettings;

/// The app setting holding the key for `authLevel: function` (the master key works too).
pub const FUNCTION_KEY_SETTING: &str = "FUNCTIONS_KEY";
/// The app setting holding the master key, the only key `authLevel: admin` accepts.
pub const MASTER_KEY_SETTING: &str = "FUNCTIONS_MASTER_KEY";

/// A loaded, validated app.
#[derive(Debug, Clone)]
pub struct App {
    /// The app root (where host.json is).
    pub dir: PathBuf,
    /// host.json.
    pub host: HostJson,
    /// How to start the handler.
    pub handler: WorkerSpec,
    /// The enabled functions, sorted by name.
    pub functions: Vec<FunctionSpec>,
    /// App settings after every overlay.
    pub settings: Settings,
    /// Keys callers must present.
    pub keys: Keys,
    /// Storage connections by setting name, for every connection a binding uses.
    pub connections: BTreeMap<String, StorageSettings>,
    /// Containers whose new blobs this host turns into `BlobCreated` events for an Event
    /// Grid function ([`BLOB_EVENTS_SETTING`]).
    pub blob_events: Vec<BlobEvents>,
    /// How those events are delivered, as Event Grid does ([`crate::subscription`]).
    pub delivery: crate::subscription::DeliveryPolicy,
    /// The queue message lease, when [`crate::queue::LEASE_SETTING`] shortens it.
    pub message_lease: Option<std::time::Duration>,
}

/// The setting that stands in for an Event Grid subscription on a storage account, which
/// Azurite cannot emit: `function=container[;function=container...]`.
pub const BLOB_EVENTS_SETTING: &str = "LOCALHOST_BLOB_EVENTS";

/// One [`BLOB_EVENTS_SETTING`] entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobEvents {
    /// The Event Grid function the events go to.
    pub function: String,
    /// The container watched (in the `AzureWebJobsStorage` account).
    pub container: String,
}

/// How to start the custom handler (host.json `customHandler.description`, resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSpec {
    /// The executable to run.
    pub executable: PathBuf,
    /// Its working directory.
    pub working_dir: PathBuf,
    /// Its arguments, `%SETTING%` expanded.
    pub arguments: Vec<String>,
}

/// One function: its folder name, file and bindings (app-setting expressions resolved).
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The folder name: the function's name and the path the handler is called at.
    pub name: String,
    /// Its function.json.
    pub file: PathBuf,
    /// Its bindings.
    pub json: FunctionJson,
    /// The parsed route when the trigger is HTTP.
    pub route: Option<RouteTemplate>,
}

impl FunctionSpec {
    /// The storage connection setting a binding uses.
    pub fn connection_of(binding: &Binding) -> Option<&str> {
        let connection = match binding {
            Binding::QueueTrigger(b) => &b.connection,
            Binding::Queue(b) => &b.connection,
            Binding::Blob(b) => &b.connection,
            _ => return None,
        };
        Some(
            connection
                .as_deref()
                .filter(|c| !c.trim().is_empty())
                .unwrap_or(DEFAULT_CONNECTION),
        )
    }
}

/// The keys this host enforces (Core Tools does not enforce keys locally; this host does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    /// Accepted for `authLevel: function`.
    pub function: Option<String>,
    /// Accepted for `function` and `admin`.
    pub master: Option<String>,
}

impl Keys {
    /// Whether `presented` satisfies `level`.
    pub fn allows(&self, level: AuthLevel, presented: Option<&str>) -> bool {
        let matches = |key: &Option<String>| match (key, presented) {
            (Some(key), Some(given)) => constant_time_eq(key.as_bytes(), given.as_bytes()),
            _ => false,
        };
        match level {
            AuthLevel::Anonymous => true,
            AuthLevel::Function => matches(&self.function) || matches(&self.master),
            AuthLevel::Admin => matches(&self.master),
        }
    }
}

// Keys are secrets: compare without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Loads and validates the app `options` point at.
pub fn load(options: &HostOptions) -> Result<App, LoadError> {
    if !options.app_dir.is_dir() {
        return Err(LoadError::new(
            &options.app_dir,
            "is not a directory; pass the app directory with --app-dir",
        ));
    }
    // Absolute, because the handler runs with its working directory inside the app and
    // a relative executable path would be resolved twice.
    let absolute = std::path::absolute(&options.app_dir)
        .map_err(|e| LoadError::new(&options.app_dir, format!("cannot be resolved ({e})")))?;
    let dir = &absolute;
    let host_file = dir.join("host.json");
    let host_text = std::fs::read_to_string(&host_file).map_err(|e| {
        LoadError::new(
            &host_file,
            format!("cannot be read ({e}); is this the app directory?"),
        )
    })?;
    let host = HostJson::from_json(&host_text)
        .map_err(|e| LoadError::new(&host_file, format!("is not a valid host.json ({e})")))?;
    let Some(custom) = host.custom_handler.clone() else {
        return Err(LoadError::new(
            &host_file,
            "has no `customHandler.description.defaultExecutablePath`; this host runs custom handlers only",
        ));
    };
    if custom.enable_proxying_http_request {
        log::warn!(
            "{}: `customHandler.enableProxyingHttpRequest` is not supported here; HTTP functions use forwarding or the JSON protocol",
            host_file.display()
        );
    }

    let settings = load_settings(options)?;
    let settings_file = settings_path(options);
    let functions = load_functions(dir, &settings, &custom.description)?;

    let mut connections = BTreeMap::new();
    for function in &functions {
        for binding in &function.json.bindings {
            let Some(name) = FunctionSpec::connection_of(binding) else {
                continue;
            };
            if connections.contains_key(name) {
                continue;
            }
            let resolved = match &options.storage {
                Some(storage) => storage.clone(),
                None => StorageSettings::from_lookup(name, |n| settings.get(n).map(str::to_string))
                    .map_err(|e| {
                        LoadError::new(
                            &function.file,
                            format!(
                                "the binding `{}` uses the storage connection `{name}`, which is not usable: {e} (in {} or the environment)",
                                binding.name(),
                                settings_file.display()
                            ),
                        )
                    })?,
            };
            connections.insert(name.to_string(), resolved);
        }
    }

    let keys = Keys {
        function: settings
            .get(FUNCTION_KEY_SETTING)
            .filter(|k| !k.is_empty())
            .map(str::to_string),
        master: settings
            .get(MASTER_KEY_SETTING)
            .filter(|k| !k.is_empty())
            .map(str::to_string),
    };
    for function in &functions {
        if let Some(trigger) = function.json.http_trigger() {
            let missing = match trigger.auth_level {
                AuthLevel::Anonymous => false,
                AuthLevel::Function => keys.function.is_none() && keys.master.is_none(),
                AuthLevel::Admin => keys.master.is_none(),
            };
            if missing {
                log::warn!(
                    "function `{}` has authLevel `{}` but no key is set ({FUNCTION_KEY_SETTING} / {MASTER_KEY_SETTING}); every call to it will get 401",
                    function.name,
                    trigger.auth_level
                );
            }
        }
    }

    let blob_events = blob_events(&settings, &functions, &settings_file)?;
    if !blob_events.is_empty() && !connections.contains_key(DEFAULT_CONNECTION) {
        let resolved = match &options.storage {
            Some(storage) => storage.clone(),
            None => StorageSettings::from_lookup(DEFAULT_CONNECTION, |n| {
                settings.get(n).map(str::to_string)
            })
            .map_err(|e| {
                LoadError::new(
                    &settings_file,
                    format!("{BLOB_EVENTS_SETTING} needs the storage connection `{DEFAULT_CONNECTION}`: {e}"),
                )
            })?,
        };
        connections.insert(DEFAULT_CONNECTION.to_string(), resolved);
    }

    let delivery = crate::subscription::DeliveryPolicy::from_settings(&settings)
        .map_err(|e| LoadError::new(&settings_file, e))?;
    let message_lease = settings
        .number(
            crate::queue::LEASE_SETTING,
            1.0..=600.0,
            "a number of seconds from 1 to 600",
        )
        .map_err(|e| LoadError::new(&settings_file, e))?
        .map(std::time::Duration::from_secs_f64);
    let handler = resolve_handler(dir, &host_file, &settings, &custom.description)?;
    Ok(App {
        dir: dir.clone(),
        host,
        handler,
        functions,
        settings,
        keys,
        connections,
        blob_events,
        delivery,
        message_lease,
    })
}

/// Parses [`BLOB_EVENTS_SETTING`]; each function must exist and have an Event Grid trigger.
fn blob_events(
    settings: &Settings,
    functions: &[FunctionSpec],
    file: &Path,
) -> Result<Vec<BlobEvents>, LoadError> {
    let Some(text) = settings
        .get(BLOB_EVENTS_SETTING)
        .filter(|t| !t.trim().is_empty())
    else {
        return Ok(Vec::new());
    };
    let mut entries = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = |why: String| LoadError::new(file, format!("{BLOB_EVENTS_SETTING}: {why}"));
        let (function, container) = entry
            .split_once('=')
            .map(|(f, c)| (f.trim(), c.trim()))
            .ok_or_else(|| bad(format!("`{entry}` is not function=container")))?;
        let known = functions
            .iter()
            .find(|f| f.name == function)
            .ok_or_else(|| bad(format!("there is no function `{function}`")))?;
        if !matches!(known.json.trigger(), Some(Binding::EventGridTrigger(_))) {
            return Err(bad(format!("`{function}` has no eventGridTrigger")));
        }
        if container.is_empty() {
            return Err(bad(format!("`{entry}` names no container")));
        }
        entries.push(BlobEvents {
            function: function.to_string(),
            container: container.to_string(),
        });
    }
    Ok(entries)
}

fn settings_path(options: &HostOptions) -> PathBuf {
    options
        .settings_file
        .clone()
        .unwrap_or_else(|| options.app_dir.join("local.settings.json"))
}

fn load_settings(options: &HostOptions) -> Result<Settings, LoadError> {
    let path = settings_path(options);
    let mut settings = if options.settings_file.is_some() || path.exists() {
        Settings::load(&path)?
    } else {
        Settings::default()
    };
    if options.use_process_env {
        settings.overlay(std::env::vars());
    }
    settings.overlay(options.settings.clone());
    Ok(settings)
}

fn load_functions(
    dir: &Path,
    settings: &Settings,
    handler: &functions_custom_handler_protocol::host_json::CustomHandlerDescription,
) -> Result<Vec<FunctionSpec>, LoadError> {
    // Folders that belong to the handler, not to functions.
    let executable_dir = Path::new(&handler.default_executable_path)
        .components()
        .next()
        .map(|c| c.as_os_str().to_owned());
    let working_dir = handler
        .working_directory
        .as_deref()
        .and_then(|w| Path::new(w).components().next())
        .map(|c| c.as_os_str().to_owned());
    let entries = std::fs::read_dir(dir)
        .map_err(|e| LoadError::new(dir, format!("cannot be listed ({e})")))?;
    let mut functions = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| LoadError::new(dir, format!("cannot be listed ({e})")))?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.')
            || Some(&name) == executable_dir.as_ref()
            || Some(&name) == working_dir.as_ref()
        {
            continue;
        }
        let name = name.to_string_lossy().into_owned();
        let file = path.join("function.json");
        if !file.is_file() {
            return Err(LoadError::new(
                &path,
                "has no function.json; every folder next to host.json is a function (add function.json or move the folder)",
            ));
        }
        if let Some(function) = load_function(&name, &file, settings)? {
            functions.push(function);
        }
    }
    functions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(functions)
}

fn load_function(
    name: &str,
    file: &Path,
    settings: &Settings,
) -> Result<Option<FunctionSpec>, LoadError> {
    let valid_name = name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_name {
        return Err(LoadError::new(
            file,
            format!(
                "the folder name `{name}` is not a valid function name (a letter, then letters, digits, `-` or `_`)"
            ),
        ));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| LoadError::new(file, format!("cannot be read ({e})")))?;
    let raw: Value = serde_json::from_str(&text)
        .map_err(|e| LoadError::new(file, format!("is not valid JSON ({e})")))?;
    // The host skips disabled functions: `"disabled": true` or the app setting below.
    let disabled_setting = format!("AzureWebJobs.{name}.Disabled");
    let disabled = raw.get("disabled").and_then(Value::as_bool) == Some(true)
        || settings
            .get(&disabled_setting)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1");
    if disabled {
        log::info!("function `{name}` is disabled; skipping it");
        return Ok(None);
    }
    let mut json: FunctionJson = serde_json::from_value(raw)
        .map_err(|e| LoadError::new(file, format!("`bindings`: {e}")))?;
    let triggers = json.bindings.iter().filter(|b| b.is_trigger()).count();
    if triggers != 1 {
        return Err(LoadError::new(
            file,
            format!("`bindings` has {triggers} triggers; a function needs exactly one"),
        ));
    }
    for binding in &mut json.bindings {
        let binding_name = binding.name().to_string();
        let expand =
            |field: &str, value: &mut std::borrow::Cow<'static, str>| -> Result<(), LoadError> {
                *value = settings.expand(value).map(Into::into).map_err(|e| {
                    LoadError::new(
                        file,
                        format!("the binding `{binding_name}` field `{field}`: {e}"),
                    )
                })?;
                Ok(())
            };
        match binding {
            Binding::QueueTrigger(b) => expand("queueName", &mut b.queue_name)?,
            Binding::Queue(b) => expand("queueName", &mut b.queue_name)?,
            Binding::Blob(b) => expand("path", &mut b.path)?,
            Binding::TimerTrigger(b) => {
                expand("schedule", &mut b.schedule)?;
                crate::timer::Schedule::parse(&b.schedule).map_err(|e| {
                    LoadError::new(
                        file,
                        format!("the binding `{binding_name}` field `schedule`: {e}"),
                    )
                })?;
            }
            Binding::HttpTrigger(_) | Binding::Http(_) | Binding::EventGridTrigger(_) => {}
            other => {
                return Err(LoadError::new(
                    file,
                    format!(
                        "the binding `{binding_name}` has type `{}`, which the local host does not run (it runs httpTrigger, queueTrigger, timerTrigger and eventGridTrigger functions)",
                        other.type_name()
                    ),
                ));
            }
        }
    }
    let route = match json.http_trigger() {
        Some(trigger) => Some(
            RouteTemplate::parse(trigger.route.as_deref().unwrap_or(name))
                .map_err(|e| LoadError::new(file, format!("`route`: {e}")))?,
        ),
        None => None,
    };
    Ok(Some(FunctionSpec {
        name: name.to_string(),
        file: file.to_path_buf(),
        json,
        route,
    }))
}

fn resolve_handler(
    dir: &Path,
    host_file: &Path,
    settings: &Settings,
    description: &functions_custom_handler_protocol::host_json::CustomHandlerDescription,
) -> Result<WorkerSpec, LoadError> {
    let field = "customHandler.description";
    let working_dir = match description
        .working_directory
        .as_deref()
        .filter(|w| !w.is_empty())
    {
        Some(w) => dir.join(w),
        None => dir.to_path_buf(),
    };
    if !working_dir.is_dir() {
        return Err(LoadError::new(
            host_file,
            format!(
                "`{field}.workingDirectory` names `{}`, which is not a directory",
                working_dir.display()
            ),
        ));
    }
    let arguments = description
        .arguments
        .iter()
        .map(|a| settings.expand(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LoadError::new(host_file, format!("`{field}.arguments`: {e}")))?;
    let named = &description.default_executable_path;
    if named.trim().is_empty() {
        return Err(LoadError::new(
            host_file,
            format!("`{field}.defaultExecutablePath` is empty"),
        ));
    }
    let candidate = dir.join(named);
    let executable = if candidate.is_file() {
        candidate
    } else if !named.contains(['/', '\\']) {
        // Like the host, a bare command name not found in the app falls back to PATH (`node`).
        find_on_path(named).ok_or_else(|| {
            LoadError::new(
                host_file,
                format!("`{field}.defaultExecutablePath` names `{named}`, which is neither in {} nor on PATH; build the handler and copy it there", dir.display()),
            )
        })?
    } else {
        return Err(LoadError::new(
            host_file,
            format!(
                "`{field}.defaultExecutablePath` names `{}`, which does not exist; build the handler and copy it there",
                candidate.display()
            ),
        ));
    };
    if !is_executable(&executable) {
        return Err(LoadError::new(
            host_file,
            format!(
                "`{field}.defaultExecutablePath` names `{}`, which is not executable (chmod +x it)",
                executable.display()
            ),
        ));
    }
    Ok(WorkerSpec {
        executable,
        working_dir,
        arguments,
    })
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, bindings: Value) -> FunctionSpec {
        FunctionSpec {
            name: name.to_string(),
            file: PathBuf::from(format!("{name}/function.json")),
            json: serde_json::from_value(serde_json::json!({ "bindings": bindings })).unwrap(),
            route: None,
        }
    }

    #[test]
    fn blob_events_name_event_grid_functions_and_their_containers() {
        let functions = [
            spec(
                "score",
                serde_json::json!([{"type": "eventGridTrigger", "direction": "in", "name": "e"}]),
            ),
            spec(
                "tick",
                serde_json::json!([{"type": "timerTrigger", "direction": "in", "name": "t", "schedule": "0 0 3 * * *"}]),
            ),
        ];
        let parse = |value: &str| {
            let settings = Settings::from_values(
                [(BLOB_EVENTS_SETTING.to_string(), value.to_string())].into(),
            );
            blob_events(&settings, &functions, Path::new("local.settings.json"))
        };
        assert_eq!(
            parse(" score = uploads ; ").unwrap(),
            [BlobEvents {
                function: "score".into(),
                container: "uploads".into()
            }]
        );
        assert!(parse("").unwrap().is_empty());
        for (value, why) in [
            ("score", "is not function=container"),
            ("nope=uploads", "there is no function `nope`"),
            ("tick=uploads", "`tick` has no eventGridTrigger"),
            ("score=", "names no container"),
        ] {
            let err = parse(value).unwrap_err().to_string();
            assert!(err.contains(why), "{value}: {err}");
        }
    }

    #[test]
    fn function_keys_accept_the_master_key_and_admin_only_the_master_key() {
        let keys = Keys {
            function: Some("f".into()),
            master: Some("m".into()),
        };
        assert!(keys.allows(AuthLevel::Anonymous, None));
        assert!(keys.allows(AuthLevel::Function, Some("f")));
        assert!(keys.allows(AuthLevel::Function, Some("m")));
        assert!(!keys.allows(AuthLevel::Function, Some("x")));
        assert!(!keys.allows(AuthLevel::Function, None));
        assert!(keys.allows(AuthLevel::Admin, Some("m")));
        assert!(!keys.allows(AuthLevel::Admin, Some("f")));
        assert!(!Keys::default().allows(AuthLevel::Function, Some("")));
    }
}
