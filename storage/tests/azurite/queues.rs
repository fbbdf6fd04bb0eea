use crate::helpers::{new_queue, receive_within, storage, unique};
use std::time::Duration;
use storage::{MessageEncoding, StorageError, decode_message, encode_message};

const LONG: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_received_message_stays_invisible_until_deleted_and_is_gone_after() {
    let storage = storage();
    let queue = new_queue(&storage).await;
    let sent = storage.send_message(&queue, "job one").await.unwrap();

    let got = storage.receive_messages(&queue, 32, LONG).await.unwrap();
    assert_eq!(got.len(), 1);
    let message = &got[0];
    assert_eq!(message.id, sent.id);
    assert_eq!(message.text, "job one");
    assert_eq!(message.dequeue_count, 1);
    assert!(!message.pop_receipt.is_empty());
    assert_eq!(message.insertion_time, sent.insertion_time);
    assert!(message.expiration_time > message.insertion_time);
    assert!(message.next_visible_time >= message.insertion_time + Duration::from_secs(59));

    // Invisible: neither receive nor peek sees it, but it still counts.
    assert!(
        storage
            .receive_messages(&queue, 32, LONG)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(storage.peek_messages(&queue, 32).await.unwrap().is_empty());
    assert_eq!(storage.queue_length(&queue).await.unwrap(), 1);

    storage
        .delete_message(&queue, &message.id, &message.pop_receipt)
        .await
        .unwrap();
    assert_eq!(storage.queue_length(&queue).await.unwrap(), 0);
    let again = storage
        .delete_message(&queue, &message.id, &message.pop_receipt)
        .await
        .unwrap_err();
    assert!(again.is_not_found(), "{again}");
    assert_eq!(again.code(), Some("MessageNotFound"));
    storage.delete_queue(&queue).await.unwrap();
}

#[tokio::test]
async fn an_undeleted_message_reappears_after_its_visibility_timeout_with_a_higher_dequeue_count() {
    let storage = storage();
    let queue = new_queue(&storage).await;
    storage.send_message(&queue, "retry me").await.unwrap();

    let first = storage
        .receive_messages(&queue, 1, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].dequeue_count, 1);
    assert!(
        storage
            .receive_messages(&queue, 1, LONG)
            .await
            .unwrap()
            .is_empty()
    );

    let second = receive_within(&storage, &queue, LONG, Duration::from_secs(10)).await;
    assert_eq!(second.len(), 1, "the message did not reappear");
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].text, "retry me");
    assert_eq!(second[0].dequeue_count, 2);
    assert_ne!(second[0].pop_receipt, first[0].pop_receipt);

    // The first receipt went stale when the message was received again.
    let stale = storage
        .delete_message(&queue, &first[0].id, &first[0].pop_receipt)
        .await
        .unwrap_err();
    assert_eq!(stale.status(), Some(400), "{stale}");
    assert_eq!(stale.code(), Some("PopReceiptMismatch"));
    storage
        .delete_message(&queue, &second[0].id, &second[0].pop_receipt)
        .await
        .unwrap();
    assert_eq!(storage.queue_length(&queue).await.unwrap(), 0);
    storage.delete_queue(&queue).await.unwrap();
}

#[tokio::test]
async fn update_visibility_releases_a_message_early_and_issues_a_new_receipt() {
    let storage = storage();
    let queue = new_queue(&storage).await;
    storage.send_message(&queue, "failed once").await.unwrap();
    let got = storage.receive_messages(&queue, 1, LONG).await.unwrap();

    let updated = storage
        .update_visibility(&queue, &got[0].id, &got[0].pop_receipt, Duration::ZERO)
        .await
        .unwrap();
    assert_ne!(updated.pop_receipt, got[0].pop_receipt);
    assert!(updated.next_visible_time < got[0].next_visible_time);

    let peeked = storage.peek_messages(&queue, 1).await.unwrap();
    assert_eq!(peeked.len(), 1);
    assert_eq!(peeked[0].id, got[0].id);
    assert_eq!(peeked[0].dequeue_count, 1);
    let again = receive_within(&storage, &queue, LONG, Duration::from_secs(5)).await;
    assert_eq!(again[0].dequeue_count, 2);
    storage.delete_queue(&queue).await.unwrap();
}

#[tokio::test]
async fn base64_messages_round_trip_as_the_functions_host_expects() {
    let storage = storage();
    let queue = new_queue(&storage).await;
    let job = r#"{"jobId":"3f2a","features":{"area":120.5},"note":"café <ok> & ✓"}"#;
    let wire = encode_message(job, MessageEncoding::Base64);
    storage.send_message(&queue, &wire).await.unwrap();

    let peeked = storage.peek_messages(&queue, 1).await.unwrap();
    assert_eq!(
        peeked[0].text, wire,
        "the stored text is the base64 the host decodes"
    );
    let got = storage.receive_messages(&queue, 1, LONG).await.unwrap();
    assert_eq!(
        decode_message(&got[0].text, MessageEncoding::Base64).unwrap(),
        job
    );
    storage.delete_queue(&queue).await.unwrap();
}

#[tokio::test]
async fn unencoded_text_with_xml_characters_survives_the_xml_body() {
    let storage = storage();
    let queue = new_queue(&storage).await;
    let text = r#"<job id="1"> & 'quoted' ]]>"#;
    storage
        .send_message(&queue, &encode_message(text, MessageEncoding::None))
        .await
        .unwrap();
    let got = storage.receive_messages(&queue, 1, LONG).await.unwrap();
    assert_eq!(
        decode_message(&got[0].text, MessageEncoding::None).unwrap(),
        text
    );
    storage.delete_queue(&queue).await.unwrap();
}

#[tokio::test]
async fn receive_takes_at_most_max_messages_in_order() {
    let storage = storage();
    let queue = new_queue(&storage).await;
    for n in 1..=3 {
        storage
            .send_message(&queue, &format!("m{n}"))
            .await
            .unwrap();
    }
    assert_eq!(storage.queue_length(&queue).await.unwrap(), 3);
    let got = storage.receive_messages(&queue, 2, LONG).await.unwrap();
    assert_eq!(
        got.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["m1", "m2"]
    );
    let rest = storage.receive_messages(&queue, 32, LONG).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].text, "m3");
    storage.delete_queue(&queue).await.unwrap();
}

#[tokio::test]
async fn ensure_queue_is_idempotent() {
    let storage = storage();
    let queue = new_queue(&storage).await;
    storage.send_message(&queue, "kept").await.unwrap();
    storage.ensure_queue(&queue).await.unwrap();
    assert_eq!(storage.queue_length(&queue).await.unwrap(), 1);
    storage.delete_queue(&queue).await.unwrap();
    storage.delete_queue(&queue).await.unwrap();
}

#[tokio::test]
async fn sending_to_a_missing_queue_is_a_permanent_queue_not_found() {
    let storage = storage();
    let queue = unique("missing");
    let error = storage.send_message(&queue, "x").await.unwrap_err();
    assert!(
        matches!(error, StorageError::Service { status: 404, .. }),
        "{error:?}"
    );
    assert_eq!(error.code(), Some("QueueNotFound"));
    assert!(!error.is_transient());
    assert!(
        error.to_string().starts_with(&format!(
            "could not send a message to queue '{queue}': storage answered 404 QueueNotFound: "
        )),
        "{error}"
    );
}

#[tokio::test]
async fn bad_arguments_fail_before_any_request() {
    let storage = storage();
    let error = storage.ensure_queue("Bad_Name").await.unwrap_err();
    assert!(
        matches!(error, StorageError::InvalidArgument(_)),
        "{error:?}"
    );
    let error = storage.receive_messages("jobs", 0, LONG).await.unwrap_err();
    assert!(
        matches!(error, StorageError::InvalidArgument(_)),
        "{error:?}"
    );
    let error = storage
        .receive_messages("jobs", 1, Duration::ZERO)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StorageError::InvalidArgument(_)),
        "{error:?}"
    );
}
