//! Where the storage account is and how to authenticate, read from app settings the way the
//! Functions host reads them (`AzureWebJobsStorage`, or `AzureWebJobsStorage__accountName` & co.
//! for identity-based connections).

use crate::sas::{AccountKey, SasToken};
use azure_core::http::Url;
use std::collections::HashMap;
use std::fmt;

/// Azurite's account name (the storage emulator's fixed account).
pub const DEV_ACCOUNT_NAME: &str = "devstoreaccount1";
/// Azurite's well-known account key; public, published by Microsoft for the emulator.
pub const DEV_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The blob endpoint `UseDevelopmentStorage=true` stands for.
pub const DEV_BLOB_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";
/// The queue endpoint `UseDevelopmentStorage=true` stands for.
pub const DEV_QUEUE_ENDPOINT: &str = "http://127.0.0.1:10001/devstoreaccount1";

/// A storage connection: the two service endpoints this crate uses and how to authenticate.
///
/// Endpoints carry no trailing slash and no query; a SAS lives in [`StorageAuth::Sas`].
#[derive(Clone, Debug)]
pub struct StorageSettings {
    /// Account URL of the blob service, e.g. `https://acct.blob.core.windows.net`.
    pub blob_endpoint: Url,
    /// Account URL of the queue service, e.g. `http://127.0.0.1:10001/devstoreaccount1`.
    pub queue_endpoint: Url,
    /// How requests are authorized.
    pub auth: StorageAuth,
}

/// How requests to the account are authorized.
#[derive(Clone, Debug)]
pub enum StorageAuth {
    /// Account name and key (connection string with `AccountKey`): every request carries a
    /// freshly signed account SAS, because the official crates take no shared keys.
    SharedKey {
        /// The storage account name (it is part of the string to sign).
        account: String,
        /// The decoded account key.
        key: AccountKey,
    },
    /// A SAS given in the connection string (`SharedAccessSignature=`), used as is.
    Sas(SasToken),
    /// An Entra ID token (identity-based connection, `<prefix>__accountName` & co.).
    Identity(IdentityCredential),
}

/// Which Entra ID credential an identity-based connection uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityCredential {
    /// `<prefix>__credential = managedidentity` (or a `<prefix>__clientId` is given): the
    /// platform's managed identity; a user-assigned one when `client_id` is set.
    ManagedIdentity {
        /// Client id of a user-assigned identity (`<prefix>__clientId`).
        client_id: Option<String>,
    },
    /// No `__credential` set: managed identity where the platform exposes one
    /// (`IDENTITY_ENDPOINT` is set, as on App Service and Functions), otherwise the developer
    /// tools signed in on this machine (Azure CLI, then Azure Developer CLI).
    Default,
}

/// A storage setting is missing or malformed. The message is one sentence naming the setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// Neither a connection string nor an identity-based connection is configured.
    #[error(
        "no storage connection: set {prefix} (a connection string or UseDevelopmentStorage=true) or {prefix}__accountName"
    )]
    NoConnection {
        /// The app-setting prefix that was looked up, e.g. `AzureWebJobsStorage`.
        prefix: String,
    },
    /// A setting is present but unusable.
    #[error("{setting} {problem}")]
    Invalid {
        /// The setting at fault, e.g. `AzureWebJobsStorage` or `AzureWebJobsStorage__queueServiceUri`.
        setting: String,
        /// What is wrong, phrased to follow the setting name ("is missing AccountKey").
        problem: String,
    },
}

impl SettingsError {
    fn invalid(setting: &str, problem: impl Into<String>) -> Self {
        SettingsError::Invalid {
            setting: setting.to_owned(),
            problem: problem.into(),
        }
    }
}

impl StorageSettings {
    /// Reads the connection named `prefix` from the process environment.
    pub fn from_env(prefix: &str) -> Result<Self, SettingsError> {
        Self::from_lookup(prefix, |name| std::env::var(name).ok())
    }

    /// Reads the connection named `prefix` through `lookup` (env vars, local.settings.json
    /// `Values`, a test map). Blank values count as unset.
    ///
    /// Order: `<prefix>` as a connection string; otherwise `<prefix>__accountName`,
    /// `<prefix>__blobServiceUri`, `<prefix>__queueServiceUri`, `<prefix>__credential`,
    /// `<prefix>__clientId` as an identity-based connection.
    pub fn from_lookup(
        prefix: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(connection_string) = get(prefix) {
            return Self::parse_connection_string(prefix, &connection_string);
        }
        let setting = |suffix: &str| format!("{prefix}__{suffix}");
        let account = get(&setting("accountName"));
        let blob_uri = get(&setting("blobServiceUri"));
        let queue_uri = get(&setting("queueServiceUri"));
        if account.is_none() && blob_uri.is_none() && queue_uri.is_none() {
            return Err(SettingsError::NoConnection {
                prefix: prefix.to_owned(),
            });
        }
        let endpoint = |uri: Option<String>, uri_setting: &str, service: &str| match (uri, &account)
        {
            (Some(uri), _) => parse_endpoint(&setting(uri_setting), &uri, true),
            (None, Some(account)) => parse_endpoint(
                &setting("accountName"),
                &format!("https://{account}.{service}.core.windows.net"),
                true,
            ),
            (None, None) => Err(SettingsError::invalid(
                &setting(uri_setting),
                format!("is missing (set it or {prefix}__accountName)"),
            )),
        };
        let blob_endpoint = endpoint(blob_uri, "blobServiceUri", "blob")?;
        let queue_endpoint = endpoint(queue_uri, "queueServiceUri", "queue")?;
        let client_id = get(&setting("clientId"));
        let credential = match get(&setting("credential")) {
            Some(c) if c.trim().eq_ignore_ascii_case("managedidentity") => {
                IdentityCredential::ManagedIdentity { client_id }
            }
            Some(other) => {
                return Err(SettingsError::invalid(
                    &setting("credential"),
                    format!("must be managedidentity, not '{}'", other.trim()),
                ));
            }
            None if client_id.is_some() => IdentityCredential::ManagedIdentity { client_id },
            None => IdentityCredential::Default,
        };
        Ok(StorageSettings {
            blob_endpoint,
            queue_endpoint,
            auth: StorageAuth::Identity(credential),
        })
    }

    /// Azurite at its default ports with the well-known account (`UseDevelopmentStorage=true`).
    pub fn development() -> Self {
        Self::parse_connection_string("UseDevelopmentStorage", "UseDevelopmentStorage=true")
            .unwrap_or_else(|_| unreachable!("the development connection string is a constant"))
    }

    /// Parses a storage connection string; `setting` names it in error messages.
    ///
    /// Accepts `UseDevelopmentStorage=true`, account name + key with default or explicit
    /// endpoints, and `SharedAccessSignature=` strings. Keys are case-insensitive; explicit
    /// `BlobEndpoint`/`QueueEndpoint` win over `DefaultEndpointsProtocol`+`EndpointSuffix`.
    pub fn parse_connection_string(setting: &str, value: &str) -> Result<Self, SettingsError> {
        let mut parts: HashMap<String, String> = HashMap::new();
        for (index, segment) in value.split(';').enumerate() {
            let segment = segment.trim();
            if segment.is_empty() {
                continue;
            }
            let Some((key, val)) = segment.split_once('=') else {
                // Never echo the segment: it might be (part of) a secret.
                return Err(SettingsError::invalid(
                    setting,
                    format!("is not a connection string (part {} has no '=')", index + 1),
                ));
            };
            parts.insert(key.trim().to_ascii_lowercase(), val.trim().to_owned());
        }
        let get = |key: &str| parts.get(key).filter(|v| !v.is_empty()).cloned();

        if get("usedevelopmentstorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(StorageSettings {
                blob_endpoint: parse_endpoint(setting, DEV_BLOB_ENDPOINT, false)?,
                queue_endpoint: parse_endpoint(setting, DEV_QUEUE_ENDPOINT, false)?,
                auth: StorageAuth::SharedKey {
                    account: DEV_ACCOUNT_NAME.to_owned(),
                    key: AccountKey::from_base64(DEV_ACCOUNT_KEY).map_err(|_| {
                        SettingsError::invalid(setting, "has an invalid development key")
                    })?,
                },
            });
        }

        let account = get("accountname");
        let protocol = get("defaultendpointsprotocol").unwrap_or_else(|| "https".to_owned());
        if !protocol.eq_ignore_ascii_case("https") && !protocol.eq_ignore_ascii_case("http") {
            return Err(SettingsError::invalid(
                setting,
                format!("has DefaultEndpointsProtocol '{protocol}' (use https or http)"),
            ));
        }
        let suffix = get("endpointsuffix").unwrap_or_else(|| "core.windows.net".to_owned());
        let endpoint = |key: &str, name: &str, service: &str| match (get(key), &account) {
            (Some(explicit), _) => parse_endpoint(setting, &explicit, false),
            (None, Some(account)) => parse_endpoint(
                setting,
                &format!(
                    "{}://{account}.{service}.{suffix}",
                    protocol.to_ascii_lowercase()
                ),
                false,
            ),
            (None, None) => Err(SettingsError::invalid(
                setting,
                format!("is missing AccountName (or {name})"),
            )),
        };
        let blob_endpoint = endpoint("blobendpoint", "BlobEndpoint", "blob")?;
        let queue_endpoint = endpoint("queueendpoint", "QueueEndpoint", "queue")?;

        let auth = match (get("accountkey"), get("sharedaccesssignature")) {
            (Some(key), _) => {
                let Some(account) = account else {
                    return Err(SettingsError::invalid(
                        setting,
                        "has an AccountKey but is missing AccountName",
                    ));
                };
                let key = AccountKey::from_base64(&key).map_err(|_| {
                    SettingsError::invalid(setting, "has an AccountKey that is not valid base64")
                })?;
                StorageAuth::SharedKey { account, key }
            }
            (None, Some(sas)) => StorageAuth::Sas(
                SasToken::parse(&sas)
                    .map_err(|problem| SettingsError::invalid(setting, problem))?,
            ),
            (None, None) => {
                return Err(SettingsError::invalid(
                    setting,
                    "is missing AccountKey (or SharedAccessSignature)",
                ));
            }
        };
        Ok(StorageSettings {
            blob_endpoint,
            queue_endpoint,
            auth,
        })
    }

    /// The account name when it is known (shared key), for logs.
    pub fn account_name(&self) -> Option<&str> {
        match &self.auth {
            StorageAuth::SharedKey { account, .. } => Some(account),
            _ => None,
        }
    }
}

impl fmt::Display for StorageSettings {
    /// A loggable summary: endpoints and the kind of authentication, never a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            StorageAuth::SharedKey { account, .. } => format!("account key of {account}"),
            StorageAuth::Sas(_) => "shared access signature".to_owned(),
            StorageAuth::Identity(IdentityCredential::ManagedIdentity {
                client_id: Some(id),
            }) => {
                format!("managed identity {id}")
            }
            StorageAuth::Identity(IdentityCredential::ManagedIdentity { client_id: None }) => {
                "managed identity".to_owned()
            }
            StorageAuth::Identity(IdentityCredential::Default) => "default identity".to_owned(),
        };
        write!(
            f,
            "blob {} queue {} ({auth})",
            self.blob_endpoint.as_str().trim_end_matches('/'),
            self.queue_endpoint.as_str().trim_end_matches('/')
        )
    }
}

/// Parses an account URL, dropping trailing slashes so names append cleanly.
fn parse_endpoint(setting: &str, raw: &str, token: bool) -> Result<Url, SettingsError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let url = Url::parse(trimmed).map_err(|e| {
        SettingsError::invalid(
            setting,
            format!("has an endpoint that is not a URL ({e}): {trimmed}"),
        )
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(SettingsError::invalid(
            setting,
            format!("has an endpoint that is not http(s): {trimmed}"),
        ));
    }
    if url.query().is_some() {
        return Err(SettingsError::invalid(
            setting,
            "has an endpoint with a query; put a SAS in SharedAccessSignature instead",
        ));
    }
    if token && url.scheme() != "https" {
        // The official clients refuse to send a bearer token over plain http.
        return Err(SettingsError::invalid(
            setting,
            format!("must use https with an identity credential: {trimmed}"),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn err(prefix: &str, pairs: &[(&str, &str)]) -> String {
        StorageSettings::from_lookup(prefix, lookup(pairs))
            .unwrap_err()
            .to_string()
    }

    fn shared_key(settings: &StorageSettings) -> (&str, &AccountKey) {
        match &settings.auth {
            StorageAuth::SharedKey { account, key } => (account, key),
            other => panic!("expected a shared key, got {other:?}"),
        }
    }

    #[test]
    fn development_storage_expands_to_azurite_defaults() {
        let s = StorageSettings::from_lookup(
            "AzureWebJobsStorage",
            lookup(&[("AzureWebJobsStorage", "UseDevelopmentStorage=true")]),
        )
        .unwrap();
        assert_eq!(
            s.blob_endpoint.as_str(),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
        assert_eq!(
            s.queue_endpoint.as_str(),
            "http://127.0.0.1:10001/devstoreaccount1"
        );
        let (account, key) = shared_key(&s);
        assert_eq!(account, "devstoreaccount1");
        assert_eq!(key, &AccountKey::from_base64(DEV_ACCOUNT_KEY).unwrap());
        assert_eq!(
            StorageSettings::development().queue_endpoint,
            s.queue_endpoint
        );
    }

    #[test]
    fn account_key_string_builds_default_endpoints_from_protocol_and_suffix() {
        let s = StorageSettings::parse_connection_string(
            "Conn",
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn",
        )
        .unwrap();
        assert_eq!(
            s.blob_endpoint.as_str(),
            "https://acct.blob.core.chinacloudapi.cn/"
        );
        assert_eq!(
            s.queue_endpoint.as_str(),
            "https://acct.queue.core.chinacloudapi.cn/"
        );
        let (account, key) = shared_key(&s);
        assert_eq!(account, "acct");
        assert_eq!(key, &AccountKey::from_base64("a2V5").unwrap());
    }

    #[test]
    fn suffix_and_protocol_default_to_public_azure_over_https() {
        let s =
            StorageSettings::parse_connection_string("Conn", "AccountName=acct;AccountKey=a2V5")
                .unwrap();
        assert_eq!(
            s.queue_endpoint.as_str(),
            "https://acct.queue.core.windows.net/"
        );
    }

    #[test]
    fn explicit_endpoints_win_and_lose_their_trailing_slash() {
        let s = StorageSettings::parse_connection_string(
            "AzureWebJobsStorage",
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;\
             BlobEndpoint=http://127.0.0.1:41000/devstoreaccount1/;QueueEndpoint=http://127.0.0.1:41001/devstoreaccount1;",
        )
        .unwrap();
        assert_eq!(
            s.blob_endpoint.as_str(),
            "http://127.0.0.1:41000/devstoreaccount1"
        );
        assert_eq!(
            s.queue_endpoint.as_str(),
            "http://127.0.0.1:41001/devstoreaccount1"
        );
    }

    #[test]
    fn keys_are_case_insensitive_and_account_key_padding_survives() {
        let s = StorageSettings::parse_connection_string(
            "Conn",
            &format!("accountname=devstoreaccount1; ACCOUNTKEY={DEV_ACCOUNT_KEY} ;useDevelopmentStorage=false"),
        )
        .unwrap();
        assert_eq!(
            shared_key(&s).1,
            &AccountKey::from_base64(DEV_ACCOUNT_KEY).unwrap()
        );
    }

    #[test]
    fn shared_access_signature_string_keeps_the_token_without_question_mark() {
        let s = StorageSettings::parse_connection_string(
            "Conn",
            "BlobEndpoint=https://acct.blob.core.windows.net/;QueueEndpoint=https://acct.queue.core.windows.net/;\
             SharedAccessSignature=?sv=2025-11-05&ss=bq&srt=sco&sp=rl&se=2030-01-01T00%3A00%3A00Z&sig=abc%3D",
        )
        .unwrap();
        match &s.auth {
            StorageAuth::Sas(token) => assert_eq!(
                token.as_query(),
                "sv=2025-11-05&ss=bq&srt=sco&sp=rl&se=2030-01-01T00%3A00%3A00Z&sig=abc%3D"
            ),
            other => panic!("expected a SAS, got {other:?}"),
        }
        assert_eq!(
            s.blob_endpoint.as_str(),
            "https://acct.blob.core.windows.net/"
        );
    }

    #[test]
    fn shared_access_signature_with_account_name_derives_endpoints() {
        let s = StorageSettings::parse_connection_string(
            "Conn",
            "AccountName=acct;SharedAccessSignature=sv=x&sig=y",
        )
        .unwrap();
        assert_eq!(
            s.queue_endpoint.as_str(),
            "https://acct.queue.core.windows.net/"
        );
    }

    #[test]
    fn connection_string_wins_over_identity_settings() {
        let s = StorageSettings::from_lookup(
            "AzureWebJobsStorage",
            lookup(&[
                ("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
                ("AzureWebJobsStorage__accountName", "acct"),
            ]),
        )
        .unwrap();
        assert!(matches!(s.auth, StorageAuth::SharedKey { .. }));
    }

    #[test]
    fn account_name_setting_uses_identity_with_default_credential() {
        let s = StorageSettings::from_lookup(
            "AzureWebJobsStorage",
            lookup(&[("AzureWebJobsStorage__accountName", "acct")]),
        )
        .unwrap();
        assert_eq!(
            s.blob_endpoint.as_str(),
            "https://acct.blob.core.windows.net/"
        );
        assert_eq!(
            s.queue_endpoint.as_str(),
            "https://acct.queue.core.windows.net/"
        );
        assert!(matches!(
            s.auth,
            StorageAuth::Identity(IdentityCredential::Default)
        ));
    }

    #[test]
    fn blank_connection_string_falls_through_to_identity_settings() {
        let s = StorageSettings::from_lookup(
            "AzureWebJobsStorage",
            lookup(&[
                ("AzureWebJobsStorage", "  "),
                ("AzureWebJobsStorage__accountName", "acct"),
            ]),
        )
        .unwrap();
        assert!(matches!(s.auth, StorageAuth::Identity(_)));
    }

    #[test]
    fn service_uris_and_managed_identity_with_client_id() {
        let s = StorageSettings::from_lookup(
            "Jobs",
            lookup(&[
                (
                    "Jobs__blobServiceUri",
                    "https://acct.blob.core.windows.net/",
                ),
                (
                    "Jobs__queueServiceUri",
                    "https://acct.queue.core.windows.net",
                ),
                ("Jobs__credential", "managedidentity"),
                ("Jobs__clientId", "1234"),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.queue_endpoint.as_str(),
            "https://acct.queue.core.windows.net/"
        );
        match s.auth {
            StorageAuth::Identity(IdentityCredential::ManagedIdentity { client_id }) => {
                assert_eq!(client_id.as_deref(), Some("1234"))
            }
            other => panic!("expected managed identity, got {other:?}"),
        }
    }

    #[test]
    fn client_id_alone_selects_a_user_assigned_managed_identity() {
        let s = StorageSettings::from_lookup(
            "S",
            lookup(&[("S__accountName", "acct"), ("S__clientId", "abc")]),
        )
        .unwrap();
        assert!(matches!(
            s.auth,
            StorageAuth::Identity(IdentityCredential::ManagedIdentity { client_id: Some(_) })
        ));
    }

    #[test]
    fn nothing_set_says_which_settings_to_set() {
        assert_eq!(
            err("AzureWebJobsStorage", &[]),
            "no storage connection: set AzureWebJobsStorage (a connection string or UseDevelopmentStorage=true) or AzureWebJobsStorage__accountName"
        );
    }

    #[test]
    fn missing_account_key_is_named() {
        assert_eq!(
            err(
                "AzureWebJobsStorage",
                &[(
                    "AzureWebJobsStorage",
                    "DefaultEndpointsProtocol=https;AccountName=acct"
                )]
            ),
            "AzureWebJobsStorage is missing AccountKey (or SharedAccessSignature)"
        );
    }

    #[test]
    fn missing_account_name_is_named() {
        assert_eq!(
            err(
                "AzureWebJobsStorage",
                &[("AzureWebJobsStorage", "AccountKey=a2V5")]
            ),
            "AzureWebJobsStorage is missing AccountName (or BlobEndpoint)"
        );
        assert_eq!(
            err(
                "AzureWebJobsStorage",
                &[(
                    "AzureWebJobsStorage",
                    "AccountKey=a2V5;BlobEndpoint=http://h/a;QueueEndpoint=http://h/b"
                )]
            ),
            "AzureWebJobsStorage has an AccountKey but is missing AccountName"
        );
    }

    #[test]
    fn bad_values_are_rejected_without_echoing_secrets() {
        let e = err("C", &[("C", "AccountName=a;AccountKey=not*base64")]);
        assert_eq!(e, "C has an AccountKey that is not valid base64");
        assert!(!e.contains("not*base64"));
        assert_eq!(
            err("C", &[("C", "AccountName=a;secretgarbage;AccountKey=a2V5")]),
            "C is not a connection string (part 2 has no '=')"
        );
        assert_eq!(
            err(
                "C",
                &[(
                    "C",
                    "DefaultEndpointsProtocol=ftp;AccountName=a;AccountKey=a2V5"
                )]
            ),
            "C has DefaultEndpointsProtocol 'ftp' (use https or http)"
        );
        assert!(
            err(
                "C",
                &[("C", "AccountName=a;AccountKey=a2V5;BlobEndpoint=not a url")]
            )
            .starts_with("C has an endpoint that is not a URL")
        );
        assert_eq!(
            err(
                "C",
                &[(
                    "C",
                    "AccountName=a;AccountKey=a2V5;QueueEndpoint=http://h/a?sv=1"
                )]
            ),
            "C has an endpoint with a query; put a SAS in SharedAccessSignature instead"
        );
        assert_eq!(
            err(
                "C",
                &[("C", "AccountName=a;SharedAccessSignature=sv=2025-11-05")]
            ),
            "C has a SharedAccessSignature without sig="
        );
    }

    #[test]
    fn identity_settings_errors_name_the_setting() {
        assert_eq!(
            err(
                "S",
                &[("S__blobServiceUri", "https://a.blob.core.windows.net")]
            ),
            "S__queueServiceUri is missing (set it or S__accountName)"
        );
        assert_eq!(
            err(
                "S",
                &[("S__accountName", "a"), ("S__credential", "clientsecret")]
            ),
            "S__credential must be managedidentity, not 'clientsecret'"
        );
        assert_eq!(
            err(
                "S",
                &[
                    ("S__accountName", "a"),
                    (
                        "S__queueServiceUri",
                        "http://127.0.0.1:10001/devstoreaccount1"
                    )
                ]
            ),
            "S__queueServiceUri must use https with an identity credential: http://127.0.0.1:10001/devstoreaccount1"
        );
    }

    #[test]
    fn display_never_shows_the_key() {
        let s = StorageSettings::development();
        let shown = format!("{s} {s:?}");
        assert!(!shown.contains(DEV_ACCOUNT_KEY), "{shown}");
        assert!(shown.contains("devstoreaccount1"));
    }
}
