//! Files to score: where they are dropped and where their results go. The web app's
//! `/uploads` routes and the Functions app's `score-upload` both name blobs through here.

use uuid::Uuid;

use crate::api::ApiError;

/// The container files to score are dropped into.
pub const CONTAINER: &str = "uploads";
/// The metadata key of a result naming the version of the upload it was made from.
pub const SOURCE_ETAG: &str = "sourceetag";
/// The queue of uploads waiting to be scored: one [`ScoreUpload`] per blob version.
pub const QUEUE: &str = "score-uploads";
/// The container of the locks that let one run at a time score a file ([`lock_name`]).
pub const LOCKS_CONTAINER: &str = "locks";
/// The metadata key of a lock counting the scoring runs of the version in [`SOURCE_ETAG`].
pub const RUNS: &str = "runs";

/// A queued request to score one version of one upload.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScoreUpload {
    /// The blob's name in [`CONTAINER`].
    pub blob: String,
    /// The version to score, as the `BlobCreated` event named it; `None` scores whatever
    /// version is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// The lock blob (in [`LOCKS_CONTAINER`]) of upload `name`.
pub fn lock_name(name: &str) -> String {
    format!("{CONTAINER}/{name}")
}

/// Whether two ETags name the same version: Event Grid's `data.eTag` and the service's
/// `ETag` header differ only in their quotes.
pub fn same_version(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
}

/// The blob (in [`CONTAINER`]) of an upload the web app received.
pub fn upload_name(id: &Uuid) -> String {
    format!("{id}.csv")
}

/// Where the result of upload `name` goes in the results container: `uploads/<stem>.csv`.
pub fn result_name(name: &str) -> String {
    format!("{CONTAINER}/{}.csv", stem(name))
}

/// Where the error document of upload `name` goes: `uploads/<stem>.error.json`.
pub fn error_name(name: &str) -> String {
    format!("{CONTAINER}/{}.error.json", stem(name))
}

/// The name without a final `.csv`, in any case.
fn stem(name: &str) -> &str {
    match name.len().checked_sub(4) {
        Some(cut) if name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(".csv") => {
            &name[..cut]
        }
        _ => name,
    }
}

/// An upload id from a URL: a hyphenated UUID and nothing else, as job ids.
pub fn parse_upload_id(text: &str) -> Result<Uuid, ApiError> {
    crate::jobs::parse_id("upload", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_named_by_the_stem_of_the_upload() {
        assert_eq!(result_name("houses.csv"), "uploads/houses.csv");
        assert_eq!(result_name("a/b.CSV"), "uploads/a/b.csv");
        assert_eq!(error_name("houses.csv"), "uploads/houses.error.json");
        assert_eq!(result_name("houses"), "uploads/houses.csv");
        assert_eq!(result_name("é.csv"), "uploads/é.csv");
        let id = Uuid::nil();
        assert_eq!(result_name(&upload_name(&id)), format!("uploads/{id}.csv"));
    }

    #[test]
    fn versions_compare_without_their_quotes() {
        assert!(same_version("\"0x8D4BCC2E4835CD0\"", "0x8D4BCC2E4835CD0"));
        assert!(!same_version("\"0x8D4BCC2E4835CD0\"", "0x8D4BCC2E4835CD1"));
    }

    #[test]
    fn a_score_request_reads_with_or_without_a_version() {
        let full: ScoreUpload = serde_json::from_str(r#"{"blob":"a.csv","etag":"0x1"}"#).unwrap();
        assert_eq!(full.etag.as_deref(), Some("0x1"));
        let bare: ScoreUpload = serde_json::from_str(r#"{"blob":"a.csv"}"#).unwrap();
        assert_eq!(serde_json::to_string(&bare).unwrap(), r#"{"blob":"a.csv"}"#);
    }

    #[test]
    fn an_upload_id_is_a_hyphenated_uuid() {
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(parse_upload_id(id).unwrap().to_string(), id);
        for bad in ["0f8fad5bd9cb469fa16570867728950e", "..", "x"] {
            assert!(parse_upload_id(bad).is_err(), "{bad}");
        }
    }
}
