//! Azure Storage queues and blobs for the web app and the local Functions host, spoken the way
//! the Functions host speaks them.
//!
//! Built on the official `azure_storage_queue` / `azure_storage_blob` crates, which take an
//! Entra ID token or a SAS but no connection strings or keys. This crate bridges that gap:
//! [`StorageSettings`] reads `AzureWebJobsStorage`-style settings (connection strings,
//! `UseDevelopmentStorage=true`, identity-based `__accountName`), and [`Storage`] turns an
//! account key into a per-request account SAS ([`sas`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), storage::StorageError> {
//! use storage::{MessageEncoding, Storage, encode_message};
//! let storage = Storage::from_env("AzureWebJobsStorage")?;
//! storage.ensure_queue("predict-jobs").await?;
//! storage
//!     .send_message("predict-jobs", &encode_message(r#"{"jobId":"a1"}"#, MessageEncoding::Base64))
//!     .await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod client;
pub mod encoding;
mod error;
pub mod sas;
pub mod settings;

pub use azure_core::Bytes;
pub use azure_core::http::Url;
pub use client::{
    BlobInfo, BlobLease, BlobPath, BlobProperties, BlobReader, BlockWriter, MAX_BLOB_NAME,
    MAX_MESSAGES_PER_CALL, MAX_VISIBILITY, PeekedMessage, ReceivedMessage, SentMessage, Storage,
    UpdatedMessage,
};
pub use encoding::{
    EncodingError, MessageEncoding, decode_message, decode_message_bytes, encode_message,
};
pub use error::StorageError;
pub use sas::STORAGE_SERVICE_VERSION;
pub use settings::{IdentityCredential, SettingsError, StorageAuth, StorageSettings};
