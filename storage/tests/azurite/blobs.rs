use crate::helpers::{new_container, storage, unique};
use storage::StorageError;

#[tokio::test]
async fn a_blob_round_trips_and_can_be_overwritten() {
    let storage = storage();
    let container = new_container(&storage).await;
    let body = br#"{"price":250000.0}"#.to_vec();
    storage
        .put_blob(&container, "abc.json", body.clone(), "application/json")
        .await
        .unwrap();
    assert_eq!(
        storage.get_blob(&container, "abc.json").await.unwrap(),
        Some(body)
    );

    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    storage
        .put_blob(
            &container,
            "abc.json",
            bytes.clone(),
            "application/octet-stream",
        )
        .await
        .unwrap();
    assert_eq!(
        storage.get_blob(&container, "abc.json").await.unwrap(),
        Some(bytes)
    );
    storage.delete_container(&container).await.unwrap();
}

#[tokio::test]
async fn an_empty_blob_is_some_empty() {
    let storage = storage();
    let container = new_container(&storage).await;
    storage
        .put_blob(&container, "empty", Vec::new(), "text/plain")
        .await
        .unwrap();
    assert_eq!(
        storage.get_blob(&container, "empty").await.unwrap(),
        Some(Vec::new())
    );
    storage.delete_container(&container).await.unwrap();
}

#[tokio::test]
async fn missing_blobs_and_containers_read_as_none() {
    let storage = storage();
    let container = new_container(&storage).await;
    assert_eq!(
        storage.get_blob(&container, "nope.json").await.unwrap(),
        None
    );
    assert_eq!(
        storage
            .get_blob(&unique("gone"), "nope.json")
            .await
            .unwrap(),
        None
    );
    storage.delete_container(&container).await.unwrap();
}

#[tokio::test]
async fn writing_into_a_missing_container_is_container_not_found() {
    let storage = storage();
    let error = storage
        .put_blob(
            &unique("gone"),
            "a.json",
            b"{}".to_vec(),
            "application/json",
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ContainerNotFound"), "{error}");
    assert!(!error.is_transient());
}

#[tokio::test]
async fn path_helpers_address_container_and_nested_names() {
    let storage = storage();
    let container = new_container(&storage).await;
    let path = format!("{container}/2025/01/job-1.json");
    storage
        .put_blob_path(&path, b"{\"ok\":true}".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(
        storage.get_blob_path(&path).await.unwrap(),
        Some(b"{\"ok\":true}".to_vec())
    );
    // The nested name is one blob with slashes in its name, as Azure stores it.
    assert_eq!(
        storage
            .get_blob(&container, "2025/01/job-1.json")
            .await
            .unwrap(),
        Some(b"{\"ok\":true}".to_vec())
    );
    assert_eq!(
        storage.list_blobs(&container, None).await.unwrap(),
        ["2025/01/job-1.json"]
    );
    assert_eq!(
        storage
            .get_blob_path(&format!("{container}/2025/02/x.json"))
            .await
            .unwrap(),
        None
    );

    let error = storage.get_blob_path("job-1.json").await.unwrap_err();
    assert!(
        matches!(error, StorageError::InvalidArgument(_)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "blob path 'job-1.json' has no container: write it as container/name, e.g. results/abc.json"
    );
    storage.delete_container(&container).await.unwrap();
}

#[tokio::test]
async fn list_blobs_filters_by_prefix_in_name_order() {
    let storage = storage();
    let container = new_container(&storage).await;
    for name in [
        "results/b.json",
        "results/a.json",
        "inputs/a.csv",
        "results-old.json",
    ] {
        storage
            .put_blob(&container, name, b"x".to_vec(), "text/plain")
            .await
            .unwrap();
    }
    assert_eq!(
        storage
            .list_blobs(&container, Some("results/"))
            .await
            .unwrap(),
        ["results/a.json", "results/b.json"]
    );
    assert_eq!(storage.list_blobs(&container, None).await.unwrap().len(), 4);
    assert!(
        storage
            .list_blobs(&container, Some("zzz"))
            .await
            .unwrap()
            .is_empty()
    );
    storage.delete_container(&container).await.unwrap();
}

#[tokio::test]
async fn ensure_container_is_idempotent_and_keeps_blobs() {
    let storage = storage();
    let container = new_container(&storage).await;
    storage
        .put_blob(&container, "keep", b"1".to_vec(), "text/plain")
        .await
        .unwrap();
    storage.ensure_container(&container).await.unwrap();
    assert_eq!(
        storage.get_blob(&container, "keep").await.unwrap(),
        Some(b"1".to_vec())
    );
    storage.delete_container(&container).await.unwrap();
}

#[tokio::test]
async fn a_listing_gives_each_blob_s_time_version_and_size() {
    let storage = storage();
    let container = new_container(&storage).await;
    let before = time::OffsetDateTime::now_utc() - time::Duration::seconds(5);
    storage
        .put_blob(&container, "a.csv", b"CHAS\n0\n".to_vec(), "text/csv")
        .await
        .unwrap();
    let first = storage.list_blob_infos(&container, None).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].name.as_str(), first[0].size), ("a.csv", 7));
    assert!(first[0].last_modified >= before, "{:?}", first[0]);
    // A new write is a new version.
    storage
        .put_blob(&container, "a.csv", b"CHAS\n1\n".to_vec(), "text/csv")
        .await
        .unwrap();
    let second = storage.list_blob_infos(&container, None).await.unwrap();
    assert_ne!(first[0].etag, second[0].etag);
    storage.delete_container(&container).await.unwrap();
}

#[tokio::test]
async fn delete_blob_says_whether_the_blob_was_there() {
    let storage = storage();
    let container = new_container(&storage).await;
    storage
        .put_blob(&container, "old.json", b"{}".to_vec(), "application/json")
        .await
        .unwrap();
    assert!(storage.delete_blob(&container, "old.json").await.unwrap());
    assert!(!storage.delete_blob(&container, "old.json").await.unwrap());
    assert!(
        !storage
            .delete_blob(&unique("gone"), "old.json")
            .await
            .unwrap()
    );
    assert_eq!(
        storage.get_blob(&container, "old.json").await.unwrap(),
        None
    );
    storage.delete_container(&container).await.unwrap();
}

#[tokio::test]
async fn a_blob_streams_in_chunks_and_blocks_commit_into_one_blob_with_metadata() {
    let storage = storage();
    let container = new_container(&storage).await;
    // 9 MiB: more than two of the reader's 4 MiB ranges.
    let content: Vec<u8> = (0..9 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut writer = storage.block_writer(&container, "big.bin").unwrap();
    for part in content.chunks(3 << 20) {
        writer.stage(part.to_vec().into()).await.unwrap();
    }
    // Nothing is there before the commit.
    assert_eq!(storage.get_blob(&container, "big.bin").await.unwrap(), None);
    let metadata = [("sourceetag".to_string(), "\"0x1\"".to_string())].into();
    writer
        .commit("application/octet-stream", metadata)
        .await
        .unwrap();

    let mut reader = storage
        .open_blob(&container, "big.bin")
        .await
        .unwrap()
        .unwrap();
    let mut read = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = reader.next_chunk().await.unwrap() {
        read.extend_from_slice(&chunk);
        chunks += 1;
    }
    assert!(read == content, "the streamed content differs");
    assert!(chunks > 1, "one chunk for 9 MiB");
    let properties = storage
        .blob_properties(&container, "big.bin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(properties.etag, reader.etag);
    assert_eq!(properties.size, 9 << 20);
    assert_eq!(properties.metadata["sourceetag"], "\"0x1\"");
    assert_eq!(
        storage.blob_properties(&container, "none").await.unwrap(),
        None
    );
    assert!(
        storage
            .open_blob(&container, "none")
            .await
            .unwrap()
            .is_none()
    );
    storage.delete_container(&container).await.unwrap();
}

#[tokio::test]
async fn two_writers_of_one_blob_never_commit_each_other_s_blocks() {
    let storage = storage();
    let container = new_container(&storage).await;
    let mut first = storage.block_writer(&container, "r.csv").unwrap();
    let mut second = storage.block_writer(&container, "r.csv").unwrap();
    first.stage(b"first-0 ".to_vec().into()).await.unwrap();
    second.stage(b"second-0 ".to_vec().into()).await.unwrap();
    first.stage(b"first-1".to_vec().into()).await.unwrap();
    second.stage(b"second-1".to_vec().into()).await.unwrap();
    first.commit("text/csv", Default::default()).await.unwrap();
    assert_eq!(
        storage
            .get_blob(&container, "r.csv")
            .await
            .unwrap()
            .unwrap(),
        b"first-0 first-1"
    );
    // The service drops a blob's other uncommitted blocks at a commit: the late writer fails
    // (its caller retries) instead of committing a mix.
    assert!(second.commit("text/csv", Default::default()).await.is_err());
    let kept = storage
        .get_blob(&container, "r.csv")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept, b"first-0 first-1");
    storage.delete_container(&container).await.unwrap();
}

#[tokio::test]
async fn a_lease_is_held_by_one_contender_at_a_time_and_carries_metadata() {
    let storage = storage();
    let container = new_container(&storage).await;
    let duration = std::time::Duration::from_secs(15);
    // The blob does not exist yet: the first contender makes it.
    let first = storage
        .try_lease(&container, "locks/a.csv", duration)
        .await
        .unwrap()
        .expect("the first contender holds the lease");
    assert!(
        storage
            .try_lease(&container, "locks/a.csv", duration)
            .await
            .unwrap()
            .is_none(),
        "a second contender got a held lease"
    );
    first.renew().await.unwrap();
    // A held lock cannot be deleted without its lease (housekeeping counts on the code).
    let refused = storage
        .delete_blob(&container, "locks/a.csv")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("LeaseIdMissing"), "{refused}");
    let metadata = [("runs".to_owned(), "1".to_owned())].into();
    first.set_metadata(&metadata).await.unwrap();
    let properties = storage
        .blob_properties(&container, "locks/a.csv")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(properties.metadata, metadata);
    first.release().await.unwrap();
    let second = storage
        .try_lease(&container, "locks/a.csv", duration)
        .await
        .unwrap()
        .expect("released, the lease can be taken again");
    // Taking the lease again does not wipe what the last holder wrote.
    let kept = storage
        .blob_properties(&container, "locks/a.csv")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.metadata, metadata);
    second.release().await.unwrap();
    storage.delete_container(&container).await.unwrap();
}
