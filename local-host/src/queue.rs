//! Queue triggers: one poller per queue-triggered function, processing messages the way the
//! host's queue listener does.
//!
//! - Receive up to `batchSize`, fetch again once no more than `newBatchThreshold` are in
//!   flight; back off up to `maxPollingInterval` while the queue is empty.
//! - 2xx from the handler: apply outputs, delete the message.
//! - Failure: nothing is deleted. Once `DequeueCount >= maxDequeueCount` the message moves to
//!   `<queue>-poison` (same wire text) and the original is deleted; otherwise it becomes
//!   visible again after `visibilityTimeout`.
//! - A message that is not valid base64 under `messageEncoding: base64` moves to the poison
//!   queue at once, as the Storage extension (5.x) does, since retrying cannot help.

use crate::binding_data::{BindingData, format_offset};
use crate::config::FunctionSpec;
use crate::invocation::Invoker;
use functions_custom_handler_protocol::function_json::QueueTrigger;
use functions_custom_handler_protocol::host_json::QueuesOptions;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use storage::{MessageEncoding, ReceivedMessage, Storage};
use time::OffsetDateTime;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long a received message stays invisible while its invocation runs: the host's
/// `_visibilityTimeout = TimeSpan.FromMinutes(10)` (azure-webjobs-sdk
/// `src/Microsoft.Azure.WebJobs.Extensions.Storage/Queues/Listeners/QueueListener.cs`).
pub const MESSAGE_LEASE: Duration = Duration::from_secs(10 * 60);
/// The app setting that shortens [`MESSAGE_LEASE`] (seconds), so a test sees a killed
/// instance's messages reappear in seconds rather than minutes.
pub const LEASE_SETTING: &str = "LOCALHOST_MESSAGE_LEASE";
const MIN_POLL_DELAY: Duration = Duration::from_millis(100);

/// The settings one queue listener runs with.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Messages per receive (1–32).
    pub batch_size: u8,
    /// Fetch again when this few are still in flight.
    pub new_batch_threshold: usize,
    /// The longest wait between polls of an empty queue.
    pub max_polling_interval: Duration,
    /// How long a failed message stays invisible before its retry.
    pub visibility_timeout: Duration,
    /// Attempts before a message is poisoned.
    pub max_dequeue_count: u32,
    /// How bodies are encoded.
    pub encoding: MessageEncoding,
    /// How long in-flight messages may finish after shutdown starts.
    pub drain_timeout: Duration,
    /// How long a received message stays invisible ([`MESSAGE_LEASE`] unless a test sets
    /// less). A message whose failure cannot be recorded (storage is gone) reappears after it.
    pub message_lease: Duration,
}

impl QueueSettings {
    /// The settings host.json's `extensions.queues` describes, with the local polling default.
    pub fn from_host(options: &QueuesOptions, drain_timeout: Duration) -> Self {
        Self {
            batch_size: options
                .batch_size
                .clamp(1, u32::from(storage::MAX_MESSAGES_PER_CALL)) as u8,
            new_batch_threshold: options.effective_new_batch_threshold() as usize,
            max_polling_interval: options
                .effective_max_polling_interval(true)
                .max(MIN_POLL_DELAY),
            visibility_timeout: options.visibility_timeout.as_duration(),
            max_dequeue_count: options.max_dequeue_count.max(1),
            encoding: match options.message_encoding {
                functions_custom_handler_protocol::host_json::MessageEncoding::Base64 => {
                    MessageEncoding::Base64
                }
                functions_custom_handler_protocol::host_json::MessageEncoding::None => {
                    MessageEncoding::None
                }
            },
            drain_timeout,
            message_lease: MESSAGE_LEASE,
        }
    }
}

/// One queue-triggered function's listener.
#[derive(Debug, Clone)]
pub struct QueueListener {
    /// The function.
    pub function: Arc<FunctionSpec>,
    /// Its trigger.
    pub trigger: QueueTrigger,
    /// The account holding the queue.
    pub storage: Storage,
    /// Polling and retry settings.
    pub settings: QueueSettings,
    /// Runs the invocations.
    pub invoker: Arc<Invoker>,
}

impl QueueListener {
    /// Polls until `shutdown`, then lets in-flight messages finish (bounded by the drain
    /// timeout; messages still running stay invisible until their lease ends).
    pub async fn run(self, shutdown: CancellationToken) {
        let queue = self.trigger.queue_name.clone();
        let this = Arc::new(self);
        let mut tasks = JoinSet::new();
        let mut delay = MIN_POLL_DELAY;
        let mut reported_missing = false;
        log::info!(
            "listening on queue `{queue}` for function `{}`",
            this.function.name
        );
        while !shutdown.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            if tasks.len() > this.settings.new_batch_threshold {
                tokio::select! {
                    _ = tasks.join_next() => {}
                    _ = shutdown.cancelled() => break,
                }
                continue;
            }
            let received = tokio::select! {
                r = this.storage.receive_messages(&queue, this.settings.batch_size, this.settings.message_lease) => r,
                _ = shutdown.cancelled() => break,
            };
            let wait = match received {
                Ok(messages) if messages.is_empty() => {
                    let wait = delay;
                    delay = (delay * 2).min(this.settings.max_polling_interval);
                    wait
                }
                Ok(messages) => {
                    reported_missing = false;
                    delay = MIN_POLL_DELAY;
                    for message in messages {
                        let this = Arc::clone(&this);
                        tasks.spawn(async move { this.process(message).await });
                    }
                    continue;
                }
                Err(e) if e.code() == Some("QueueNotFound") => {
                    if !reported_missing {
                        log::info!("queue `{queue}` does not exist yet; polling until it does");
                        reported_missing = true;
                    }
                    this.settings.max_polling_interval
                }
                Err(e) => {
                    log::warn!("{e}");
                    let wait = delay;
                    delay = (delay * 2).min(this.settings.max_polling_interval);
                    wait
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        let drain = tokio::time::timeout(this.settings.drain_timeout, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drain.is_err() {
            log::warn!(
                "{} message(s) from `{queue}` were still running at shutdown; they reappear when their lease ends",
                tasks.len()
            );
            tasks.abort_all();
        }
    }

    async fn process(&self, message: ReceivedMessage) {
        let queue = &self.trigger.queue_name;
        let bytes = match storage::decode_message_bytes(&message.text, self.settings.encoding) {
            Ok(bytes) => bytes,
            Err(e) => {
                log::error!(
                    "message {} in queue `{queue}`: {e}; moving it to `{queue}-poison` (whoever sends to this queue must base64-encode, or set extensions.queues.messageEncoding to none)",
                    message.id
                );
                self.poison(&message).await;
                return;
            }
        };
        if message.dequeue_count > self.settings.max_dequeue_count {
            log::warn!(
                "message {} in queue `{queue}` was already dequeued {} times; moving it to `{queue}-poison`",
                message.id,
                message.dequeue_count
            );
            self.poison(&message).await;
            return;
        }
        let id = uuid::Uuid::new_v4().to_string();

        let (data, binding_data) = queue_invocation(
            &self.function.name,
            &self.trigger,
            &MessageFacts::received(&message),
            &bytes,
        );

        // The lease is renewed at half time while the function runs, as the storage
        // extension's `QueueListener` does (azure-sdk-for-net
        // `Microsoft.Azure.WebJobs.Extensions.Storage.Common/src/Shared/Queues/QueueListener.cs`,
        // `UpdateQueueMessageVisibilityCommand.cs`): a long run keeps its message, and one
        // whose instance dies loses it when the lease ends.
        let receipt = Arc::new(tokio::sync::Mutex::new(message.pop_receipt.clone()));
        let renewing = Renewing(tokio::spawn(renew(
            self.storage.clone(),
            queue.to_string(),
            message.id.clone(),
            Arc::clone(&receipt),
            self.settings.message_lease,
        )));
        let outcome = self
            .invoker
            .invoke(&self.function, &id, data, binding_data)
            .await;
        // The renewer holds the receipt while an update is in flight: wait for it, so the
        // receipt read here is the one the service last issued.
        let pop_receipt = {
            let current = receipt.lock().await;
            drop(renewing);
            current.clone()
        };
        let message = ReceivedMessage {
            pop_receipt,
            ..message
        };
        match outcome {
            Ok(_) => {
                if let Err(e) = self
                    .storage
                    .delete_message(queue, &message.id, &message.pop_receipt)
                    .await
                {
                    log::warn!(
                        "processed message {} but could not delete it: {e}",
                        message.id
                    );
                }
            }
            Err(_) if message.dequeue_count >= self.settings.max_dequeue_count => {
                log::warn!(
                    "message {} has reached MaxDequeueCount of {}; moving it to `{queue}-poison`",
                    message.id,
                    self.settings.max_dequeue_count
                );
                self.poison(&message).await;
            }
            Err(_) => {
                if let Err(e) = self
                    .storage
                    .update_visibility(
                        queue,
                        &message.id,
                        &message.pop_receipt,
                        self.settings.visibility_timeout,
                    )
                    .await
                {
                    log::warn!(
                        "could not release message {} for retry (it reappears when its lease ends): {e}",
                        message.id
                    );
                }
            }
        }
    }

    /// Copies the message (same wire text) to `<queue>-poison`, then deletes the original.
    async fn poison(&self, message: &ReceivedMessage) {
        let poison = format!("{}-poison", self.trigger.queue_name);
        let connection = FunctionSpec::connection_of(
            &functions_custom_handler_protocol::function_json::Binding::QueueTrigger(
                self.trigger.clone(),
            ),
        )
        .unwrap_or_default()
        .to_string();
        if let Err(e) = self
            .invoker
            .connections()
            .send(&connection, &poison, &message.text)
            .await
        {
            log::error!(
                "could not move message {} to `{poison}` (it will be retried): {e}",
                message.id
            );
            return;
        }
        if let Err(e) = self
            .storage
            .delete_message(&self.trigger.queue_name, &message.id, &message.pop_receipt)
            .await
        {
            log::warn!(
                "copied message {} to `{poison}` but could not delete the original: {e}",
                message.id
            );
        }
    }
}

/// The task renewing a running message's lease, stopped when the run ends or is dropped
/// (a host stopping aborts what it could not drain: the lease then runs out).
struct Renewing(tokio::task::JoinHandle<()>);

impl Drop for Renewing {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps message `id` of `queue` invisible for another `lease` every half lease, updating
/// `receipt` (held across each update); stops once the message is gone or another holds it.
async fn renew(
    storage: Storage,
    queue: String,
    id: String,
    receipt: Arc<tokio::sync::Mutex<String>>,
    lease: Duration,
) {
    loop {
        tokio::time::sleep(lease / 2).await;
        let mut current = receipt.lock().await;
        match storage
            .update_visibility(&queue, &id, &current, lease)
            .await
        {
            Ok(updated) => *current = updated.pop_receipt,
            Err(e)
                if e.code() == Some("MessageNotFound")
                    || e.code() == Some("PopReceiptMismatch") =>
            {
                log::warn!("message {id} in `{queue}` is no longer this run's to renew: {e}");
                return;
            }
            Err(e) => log::warn!("could not renew message {id} in `{queue}`: {e}"),
        }
    }
}

/// What the host knows of a queue message when it builds an invocation.
#[derive(Debug, Clone)]
pub(crate) struct MessageFacts {
    /// `None` for a message made from an admin call's input.
    pub id: Option<String>,
    pub pop_receipt: Option<String>,
    pub dequeue_count: u32,
    pub insertion_time: OffsetDateTime,
    /// `None` is .NET's `DateTimeOffset.MaxValue`.
    pub expiration_time: Option<OffsetDateTime>,
    pub next_visible_time: Option<OffsetDateTime>,
}

impl MessageFacts {
    /// The facts of a received message.
    pub fn received(message: &ReceivedMessage) -> MessageFacts {
        MessageFacts {
            id: Some(message.id.clone()),
            pop_receipt: Some(message.pop_receipt.clone()),
            dequeue_count: message.dequeue_count,
            insertion_time: message.insertion_time,
            expiration_time: Some(message.expiration_time),
            next_visible_time: Some(message.next_visible_time),
        }
    }

    /// The message the storage extension makes of an admin call's input:
    /// `QueuesModelFactory.QueueMessage(null, null, input, 0)` (azure-sdk-for-net
    /// `Microsoft.Azure.WebJobs.Extensions.Storage.Queues/src/Triggers/StringToStorageQueueMessageConverter.cs`):
    /// no id or pop receipt (so neither is in Metadata), dequeued 0 times, inserted now, and
    /// never expiring or becoming visible.
    pub fn from_admin_input(now: OffsetDateTime) -> MessageFacts {
        MessageFacts {
            id: None,
            pop_receipt: None,
            dequeue_count: 0,
            insertion_time: now,
            expiration_time: None,
            next_visible_time: None,
        }
    }
}

/// .NET's `DateTimeOffset.MaxValue` as the host writes it.
const MAX_OFFSET: &str = "9999-12-31T23:59:59.9999999+00:00";

/// The `Data` and binding data the host builds for a message (`bytes`, already decoded per
/// `messageEncoding`): the trigger value typed by its `dataType`, and the storage
/// extension's binding data (the message's JSON properties, `DequeueCount`, `Id`,
/// `PopReceipt`, and the times, which are `DateTimeOffset`s and so plain ISO strings in
/// Metadata; null values are left out; ScriptInvocationContextExtensions.cs).
pub(crate) fn queue_invocation(
    function_name: &str,
    trigger: &functions_custom_handler_protocol::function_json::QueueTrigger,
    message: &MessageFacts,
    bytes: &[u8],
) -> (Map<String, Value>, BindingData) {
    let mut data = Map::new();
    data.insert(
        trigger.name.to_string(),
        functions_custom_handler_protocol::host::input_value(Some(bytes), trigger.data_type),
    );
    let mut binding_data = BindingData::new(function_name);
    // The storage extension's binding data first (`QueueTriggerBinding.CreateBindingData`),
    // then the message's JSON properties on top (`Utility.ApplyBindingData` sets them with the
    // indexer): a property `id` replaces the message's `Id`, in Metadata and in expressions.
    let text = String::from_utf8_lossy(bytes);
    binding_data.add_hidden("QueueTrigger", Value::String(text.clone().into_owned()));
    binding_data.add("DequeueCount", Value::from(message.dequeue_count));
    match &message.id {
        Some(id) => binding_data.add("Id", Value::String(id.clone())),
        None => binding_data.add_hidden("Id", Value::Null),
    }
    match &message.pop_receipt {
        Some(receipt) => binding_data.add("PopReceipt", Value::String(receipt.clone())),
        None => binding_data.add_hidden("PopReceipt", Value::Null),
    }
    for (key, time) in [
        ("InsertionTime", Some(message.insertion_time)),
        ("ExpirationTime", message.expiration_time),
        ("NextVisibleTime", message.next_visible_time),
    ] {
        let formatted = Value::String(time.map_or_else(|| MAX_OFFSET.to_string(), format_offset));
        // A `DateTimeOffset` is no path text: `{InsertionTime}` resolves to nothing.
        binding_data.add_raw(key, formatted, Some(Value::Null));
    }
    binding_data.add_json_properties(&text);
    (data, binding_data)
}
