//! Files to score: where they are dropped and where their results go. The web app's
//! `/uploads` routes and the Functions app's `score-upload` both name blobs through here.

use uuid::Uuid;

use crate::api::ApiError;

/// The container files to score are dropped into.
pub const CONTAINER: &str = "uploads";
/// The metadata key of a result naming the version of the upload it was made from.
pub const SOURCE_ETAG: &str = "sourceetag";

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
    fn an_upload_id_is_a_hyphenated_uuid() {
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(parse_upload_id(id).unwrap().to_string(), id);
        for bad in ["0f8fad5bd9cb469fa16570867728950e", "..", "x"] {
            assert!(parse_upload_id(bad).is_err(), "{bad}");
        }
    }
}
