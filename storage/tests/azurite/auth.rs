use crate::helpers::{connection_string, new_queue, settings, storage, unique};
use std::time::Duration;
use storage::sas::{AccountKey, AccountSas, SasProtocol};
use storage::settings::DEV_ACCOUNT_KEY;
use storage::{Storage, StorageAuth, StorageError, StorageSettings};
use time::OffsetDateTime;

/// The Azurite connection string with `AccountKey=` replaced by `key`.
fn with_key(key: &str) -> String {
    connection_string()
        .split(';')
        .map(|part| {
            if part.to_ascii_lowercase().starts_with("accountkey=") {
                format!("AccountKey={key}")
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

#[tokio::test]
async fn a_wrong_account_key_is_rejected_by_azurite() {
    // A valid base64 key of the right length that is not the account's key.
    let wrong = DEV_ACCOUNT_KEY.replacen('E', "F", 1);
    let settings = StorageSettings::parse_connection_string("test", &with_key(&wrong)).unwrap();
    let storage = Storage::new(&settings).unwrap();
    let error = storage.ensure_queue(&unique("denied")).await.unwrap_err();
    assert_eq!(error.status(), Some(403), "{error}");
    assert_eq!(error.code(), Some("AuthenticationFailed"), "{error}");
    assert!(!error.is_transient());
    let error = storage.get_blob(&unique("denied"), "x").await.unwrap_err();
    assert_eq!(error.status(), Some(403), "{error}");
}

#[tokio::test]
async fn a_connection_string_with_a_shared_access_signature_works() {
    let StorageAuth::SharedKey { account, key } = settings().auth else {
        panic!("the Azurite connection string should carry an account key");
    };
    let now = OffsetDateTime::now_utc();
    let sas = AccountSas::blobs_and_queues(
        Some(now - time::Duration::minutes(5)),
        now + time::Duration::minutes(30),
        SasProtocol::HttpsAndHttp,
    )
    .to_query(&account, &key);
    let base = settings();
    let connection = format!(
        "BlobEndpoint={};QueueEndpoint={};SharedAccessSignature=?{sas}",
        base.blob_endpoint, base.queue_endpoint
    );
    let storage =
        Storage::new(&StorageSettings::parse_connection_string("test", &connection).unwrap())
            .unwrap();
    let queue = new_queue(&storage).await;
    storage.send_message(&queue, "via sas").await.unwrap();
    let got = storage
        .receive_messages(&queue, 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(got[0].text, "via sas");
    storage.delete_queue(&queue).await.unwrap();
}

#[tokio::test]
async fn an_expired_shared_access_signature_is_rejected() {
    let StorageAuth::SharedKey { account, key } = settings().auth else {
        panic!("the Azurite connection string should carry an account key");
    };
    let now = OffsetDateTime::now_utc();
    let sas = AccountSas::blobs_and_queues(
        Some(now - time::Duration::hours(2)),
        now - time::Duration::hours(1),
        SasProtocol::HttpsAndHttp,
    )
    .to_query(&account, &key);
    let base = settings();
    let connection = format!(
        "BlobEndpoint={};QueueEndpoint={};SharedAccessSignature={sas}",
        base.blob_endpoint, base.queue_endpoint
    );
    let storage =
        Storage::new(&StorageSettings::parse_connection_string("test", &connection).unwrap())
            .unwrap();
    let error = storage.ensure_queue(&unique("expired")).await.unwrap_err();
    assert_eq!(error.status(), Some(403), "{error}");
}

#[tokio::test]
async fn the_signing_key_is_the_one_azurite_holds() {
    // Same account, same key, decoded independently: accepted. Together with the wrong-key
    // test this shows Azurite verifies our signature rather than ignoring it.
    let settings =
        StorageSettings::parse_connection_string("test", &with_key(DEV_ACCOUNT_KEY)).unwrap();
    assert!(
        matches!(&settings.auth, StorageAuth::SharedKey { key, .. } if *key == AccountKey::from_base64(DEV_ACCOUNT_KEY).unwrap())
    );
    let storage = Storage::new(&settings).unwrap();
    let queue = new_queue(&storage).await;
    storage.delete_queue(&queue).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transient_error() {
    // A port that was free a moment ago: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let connection = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_ACCOUNT_KEY};\
         BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1"
    );
    let storage =
        Storage::new(&StorageSettings::parse_connection_string("test", &connection).unwrap())
            .unwrap();
    let started = std::time::Instant::now();
    let error = storage.send_message("jobs", "x").await.unwrap_err();
    assert!(
        matches!(error, StorageError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "gave up after {:?}",
        started.elapsed()
    );
    // Keep the shared helper honest too: the real storage still answers.
    storage_answers().await;
}

async fn storage_answers() {
    let storage = storage();
    let queue = new_queue(&storage).await;
    storage.delete_queue(&queue).await.unwrap();
}
