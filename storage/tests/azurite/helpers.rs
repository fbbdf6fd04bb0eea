use std::time::Duration;
use storage::{Storage, StorageSettings};

/// The variable `scripts/azurite.sh start` exports.
pub const CONNECTION_VARIABLE: &str = "AZURITE_CONNECTION_STRING";

/// Azurite's connection string; panics with the fix when it is not set.
pub fn connection_string() -> String {
    match std::env::var(CONNECTION_VARIABLE) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!(
            "{CONNECTION_VARIABLE} is not set: these tests need a running Azurite; run \
             `scripts/azurite.sh run -- cargo test -p storage`, or `eval \"$(scripts/azurite.sh start)\"` \
             in this shell first"
        ),
    }
}

/// Settings read the way the apps read them, from a lookup, under the variable's name.
pub fn settings() -> StorageSettings {
    let connection = connection_string();
    StorageSettings::from_lookup(CONNECTION_VARIABLE, |name| {
        (name == CONNECTION_VARIABLE).then(|| connection.clone())
    })
    .unwrap()
}

pub fn storage() -> Storage {
    Storage::new(&settings()).unwrap()
}

/// A queue or container name no other test uses, so tests run in parallel.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A queue that exists and is empty.
pub async fn new_queue(storage: &Storage) -> String {
    let name = unique("q");
    storage.ensure_queue(&name).await.unwrap();
    name
}

/// A container that exists and is empty.
pub async fn new_container(storage: &Storage) -> String {
    let name = unique("c");
    storage.ensure_container(&name).await.unwrap();
    name
}

/// Polls receive until a message shows up, for at most `limit`.
pub async fn receive_within(
    storage: &Storage,
    queue: &str,
    visibility: Duration,
    limit: Duration,
) -> Vec<storage::ReceivedMessage> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let got = storage
            .receive_messages(queue, 1, visibility)
            .await
            .unwrap();
        if !got.is_empty() || tokio::time::Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
