//! The one error type of [`Storage`](crate::Storage) operations.

use crate::settings::SettingsError;
use azure_core::error::ErrorKind;

/// A storage operation failed. `operation` says what was being done ("send a message to queue
/// 'jobs'"); [`is_transient`](Self::is_transient) says whether retrying may help.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The connection settings are missing or malformed.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The caller passed something the service would reject (a bad name, a path without a
    /// container, an out-of-range count): nothing was sent.
    #[error("{0}")]
    InvalidArgument(String),
    /// The service answered with an error status.
    #[error("could not {operation}: storage answered {status} {}: {message}", code.as_deref().unwrap_or("(no error code)"))]
    Service {
        /// What was being done.
        operation: String,
        /// The HTTP status.
        status: u16,
        /// The service's error code (`x-ms-error-code`), e.g. `QueueNotFound`.
        code: Option<String>,
        /// The service's message, or the status text.
        message: String,
    },
    /// The service could not be reached (connection refused, reset, timed out, DNS).
    #[error("could not {operation}: storage is unreachable: {detail}")]
    Unreachable {
        /// What was being done.
        operation: String,
        /// The cause chain.
        detail: String,
    },
    /// No token could be obtained for an identity-based connection.
    #[error("could not {operation}: no storage token: {detail}")]
    Credential {
        /// What was being done.
        operation: String,
        /// The cause chain.
        detail: String,
    },
    /// Anything else: a response that could not be read, a client that could not be built.
    #[error("could not {operation}: {detail}")]
    Other {
        /// What was being done.
        operation: String,
        /// The cause chain.
        detail: String,
    },
}

impl StorageError {
    /// Wraps an SDK error with what was being done.
    pub(crate) fn from_azure(operation: impl Into<String>, error: azure_core::Error) -> Self {
        let operation = operation.into();
        let detail = chain(&error);
        match error.kind() {
            ErrorKind::HttpResponse {
                status,
                error_code,
                raw_response,
            } => StorageError::Service {
                operation,
                status: u16::from(*status),
                code: error_code.clone(),
                message: raw_response
                    .as_ref()
                    .and_then(|r| service_message(r.body().as_ref()))
                    .unwrap_or_else(|| status.canonical_reason().into_owned()),
            },
            ErrorKind::Connection | ErrorKind::Io => {
                StorageError::Unreachable { operation, detail }
            }
            ErrorKind::Credential => StorageError::Credential { operation, detail },
            _ => StorageError::Other { operation, detail },
        }
    }

    /// True when retrying later may succeed: the service was unreachable or answered 408, 429
    /// or 5xx. False for everything known to be permanent (bad input, 4xx, bad settings);
    /// also false for credential failures, which are usually misconfiguration.
    pub fn is_transient(&self) -> bool {
        match self {
            StorageError::Service { status, .. } => matches!(status, 408 | 429 | 500..=599),
            StorageError::Unreachable { .. } => true,
            _ => false,
        }
    }

    /// The HTTP status when the service answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            StorageError::Service { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The service's error code when it sent one, e.g. `MessageNotFound`, `AuthorizationFailure`.
    pub fn code(&self) -> Option<&str> {
        match self {
            StorageError::Service { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// True for a 404 (queue, container, blob or message not found).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// The error and its sources, joined, so the log shows the root cause.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

/// The `<Message>` of a storage XML error body, first line only (the rest is request ids).
fn service_message(body: &[u8]) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    let start = body.find("<Message>")? + "<Message>".len();
    let end = body[start..].find("</Message>")? + start;
    let message = body[start..end].lines().next()?.trim();
    (!message.is_empty()).then(|| message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_message_takes_the_first_line_of_message() {
        let body = br#"<?xml version="1.0" encoding="utf-8"?><Error><Code>QueueNotFound</Code><Message>The specified queue does not exist.
RequestId:1
Time:2025-01-01T00:00:00Z</Message></Error>"#;
        assert_eq!(
            service_message(body).as_deref(),
            Some("The specified queue does not exist.")
        );
        assert_eq!(service_message(b"not xml"), None);
    }

    #[test]
    fn transience_follows_the_status() {
        let service = |status| StorageError::Service {
            operation: "x".into(),
            status,
            code: None,
            message: String::new(),
        };
        assert!(service(503).is_transient());
        assert!(service(429).is_transient());
        assert!(!service(403).is_transient());
        assert!(service(404).is_not_found());
        assert!(
            StorageError::Unreachable {
                operation: "x".into(),
                detail: String::new()
            }
            .is_transient()
        );
        assert!(!StorageError::InvalidArgument("bad".into()).is_transient());
    }

    #[test]
    fn messages_read_as_sentences() {
        let e = StorageError::Service {
            operation: "send a message to queue 'jobs'".into(),
            status: 404,
            code: Some("QueueNotFound".into()),
            message: "The specified queue does not exist.".into(),
        };
        assert_eq!(
            e.to_string(),
            "could not send a message to queue 'jobs': storage answered 404 QueueNotFound: The specified queue does not exist."
        );
    }
}
