//! An Event Grid subscription's side of a delivery: how Event Grid sends an event to a
//! function and what it does when the function does not answer in time.
//!
//! [`crate::event_grid`] is the host's webhook, which answers only when the function has
//! finished. Event Grid, on the other end, does not wait that long
//! (learn.microsoft.com/azure/event-grid/delivery-and-retry):
//! - it waits 30 s for the answer; after that the attempt has failed, although the function
//!   goes on running;
//! - only 200 to 204 succeed; a failed attempt is tried again after 10 s, 30 s, 1 min, 5 min,
//!   10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h, up to the subscription's
//!   `maxDeliveryAttempts` (30) or `eventTimeToLiveInMinutes` (1440), whichever comes first;
//! - then the event is dead-lettered: written, as an array of one event with
//!   `deadLetterReason`, `deliveryAttempts`, `lastDeliveryOutcome`, `publishTime` and
//!   `lastDeliveryAttemptTime` added, to
//!   `<container>/<SUBSCRIPTION>/<yyyy>/<M>/<d>/<H>/<guid>.json` (UTC, no zero padding,
//!   the subscription name upper-cased; learn.microsoft.com/azure/event-grid/manage-event-delivery),
//!   or dropped when no dead-letter place is set.
//!
//! The local host delivers the `BlobCreated` events of [`crate::blob_events`] this way, so a
//! function that outlasts the wait is delivered again while it still runs, as in Azure. Tests
//! shorten the times with the settings below. Not copied: Event Grid's small random jitter,
//! its skipping of retries for an endpoint that stays unhealthy, and the five minutes it
//! waits before writing a dead letter.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use storage::Storage;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_util::sync::CancellationToken;

use crate::config::FunctionSpec;
use crate::invocation::Invoker;
use crate::settings::Settings;

/// Seconds Event Grid waits for an answer (default 30).
pub const WAIT_SETTING: &str = "LOCALHOST_EVENT_GRID_WAIT";
/// A factor applied to the retry schedule and the time to live (default 1; tests use 0.01).
pub const TIME_SCALE_SETTING: &str = "LOCALHOST_EVENT_GRID_TIME_SCALE";
/// `maxDeliveryAttempts` (default 30, at most 30).
pub const MAX_ATTEMPTS_SETTING: &str = "LOCALHOST_EVENT_GRID_MAX_ATTEMPTS";
/// The dead-letter container (default [`DEFAULT_DEAD_LETTER`]); empty drops failed events.
pub const DEAD_LETTER_SETTING: &str = "LOCALHOST_EVENT_GRID_DEAD_LETTER";
/// The container the infra's subscription dead-letters into.
pub const DEFAULT_DEAD_LETTER: &str = "eventgrid-deadletter";

/// The waits before the second, third, ... attempt; the last repeats.
const SCHEDULE: [Duration; 10] = [
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(3 * 3600),
    Duration::from_secs(6 * 3600),
    Duration::from_secs(12 * 3600),
];
/// `eventTimeToLiveInMinutes` by default: a day.
const TIME_TO_LIVE: Duration = Duration::from_secs(24 * 3600);

/// How a subscription delivers.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryPolicy {
    /// How long an attempt waits for the answer.
    pub wait: Duration,
    /// The factor on the retry schedule and the time to live.
    pub time_scale: f64,
    /// Attempts before the event is dead-lettered.
    pub max_attempts: u32,
    /// Where dead letters go; `None` drops them.
    pub dead_letter: Option<String>,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            wait: Duration::from_secs(30),
            time_scale: 1.0,
            max_attempts: 30,
            dead_letter: Some(DEFAULT_DEAD_LETTER.to_owned()),
        }
    }
}

impl DeliveryPolicy {
    /// The policy the settings give; `Err` names the setting at fault.
    pub fn from_settings(settings: &Settings) -> Result<DeliveryPolicy, String> {
        let mut policy = DeliveryPolicy::default();
        // Bounded so that no duration built from them can overflow.
        let number = |name: &str| {
            settings.number(
                name,
                f64::MIN_POSITIVE..=86_400.0,
                "a positive number up to 86400",
            )
        };
        if let Some(wait) = number(WAIT_SETTING)? {
            policy.wait = Duration::from_secs_f64(wait);
        }
        if let Some(scale) = number(TIME_SCALE_SETTING)? {
            policy.time_scale = scale;
        }
        if let Some(attempts) = number(MAX_ATTEMPTS_SETTING)? {
            if attempts.fract() != 0.0 || attempts > 30.0 {
                return Err(format!(
                    "{MAX_ATTEMPTS_SETTING} must be a whole number from 1 to 30, as Event Grid's maxDeliveryAttempts"
                ));
            }
            policy.max_attempts = attempts as u32;
        }
        if let Some(container) = settings.get(DEAD_LETTER_SETTING) {
            let container = container.trim();
            policy.dead_letter = (!container.is_empty()).then(|| container.to_owned());
        }
        Ok(policy)
    }

    /// The wait before attempt `attempt` (2 or more).
    pub fn delay_before(&self, attempt: u32) -> Duration {
        let step = (attempt.saturating_sub(2) as usize).min(SCHEDULE.len() - 1);
        SCHEDULE[step].mul_f64(self.time_scale)
    }

    fn time_to_live(&self) -> Duration {
        TIME_TO_LIVE.mul_f64(self.time_scale)
    }
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// An attempt succeeded.
    Succeeded {
        /// Attempts made, the last the one that succeeded.
        attempts: u32,
    },
    /// Every attempt failed; the event was dead-lettered (or dropped).
    DeadLettered {
        /// Attempts made.
        attempts: u32,
        /// `deadLetterReason`.
        reason: String,
    },
    /// The host stopped first.
    Stopped,
}

/// One subscription: events to one function.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Its name, in dead-letter paths.
    pub name: String,
    /// The function the events go to.
    pub function: Arc<FunctionSpec>,
    /// Runs the invocations.
    pub invoker: Arc<Invoker>,
    /// Where dead letters are written.
    pub storage: Storage,
    /// How it delivers.
    pub policy: DeliveryPolicy,
}

impl Subscription {
    /// Delivers `event` until an attempt succeeds, the attempts or the time to live run out
    /// (then it is dead-lettered), or `shutdown`.
    pub async fn deliver(&self, event: Value, shutdown: &CancellationToken) -> Delivered {
        let published = OffsetDateTime::now_utc();
        let started = tokio::time::Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let attempted = OffsetDateTime::now_utc();
            let outcome = tokio::select! {
                outcome = self.attempt(event.clone()) => outcome,
                _ = shutdown.cancelled() => return Delivered::Stopped,
            };
            let Err(failure) = outcome else {
                return Delivered::Succeeded { attempts: attempt };
            };
            let delay = self.policy.delay_before(attempt + 1);
            let reason = if attempt >= self.policy.max_attempts {
                Some("MaxDeliveryAttemptsExceeded")
            } else if started.elapsed() + delay > self.policy.time_to_live() {
                Some("TimeToLiveExceeded")
            } else {
                None
            };
            if let Some(reason) = reason {
                log::error!(
                    "Event Grid: `{}` for `{}` failed {attempt} times ({}); {}",
                    subject(&event),
                    self.function.name,
                    failure.describe(self.policy.wait),
                    match &self.policy.dead_letter {
                        Some(container) => format!("dead-lettered to `{container}`"),
                        None => "dropped (no dead-letter container)".to_owned(),
                    }
                );
                self.dead_letter(event, reason, attempt, &failure, published, attempted)
                    .await;
                return Delivered::DeadLettered {
                    attempts: attempt,
                    reason: reason.to_owned(),
                };
            }
            log::warn!(
                "Event Grid: `{}` for `{}`, attempt {attempt}: {}; next attempt in {:.1} s",
                subject(&event),
                self.function.name,
                failure.describe(self.policy.wait),
                delay.as_secs_f64()
            );
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.cancelled() => return Delivered::Stopped,
            }
        }
    }

    /// One attempt: the webhook's work (the function, run as its own task so that it goes
    /// on when the wait ends), waited for at most [`DeliveryPolicy::wait`].
    async fn attempt(&self, event: Value) -> Result<(), Failure> {
        let (invoker, function) = (Arc::clone(&self.invoker), Arc::clone(&self.function));
        let run = tokio::spawn(async move {
            crate::event_grid::deliver(&invoker, &function, vec![event]).await
        });
        match tokio::time::timeout(self.policy.wait, run).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(Failure::Failed(e)),
            Ok(Err(e)) => Err(Failure::Failed(e.to_string())),
            Err(_) => Err(Failure::TimedOut),
        }
    }

    /// Writes the dead letter, when there is a place for it.
    async fn dead_letter(
        &self,
        mut event: Value,
        reason: &str,
        attempts: u32,
        failure: &Failure,
        published: OffsetDateTime,
        attempted: OffsetDateTime,
    ) {
        let Some(container) = &self.policy.dead_letter else {
            return;
        };
        if let Some(fields) = event.as_object_mut() {
            fields.insert("deadLetterReason".into(), json!(reason));
            fields.insert("deliveryAttempts".into(), json!(attempts));
            fields.insert("lastDeliveryOutcome".into(), json!(failure.outcome()));
            fields.insert("publishTime".into(), json!(rfc3339(published)));
            fields.insert("lastDeliveryAttemptTime".into(), json!(rfc3339(attempted)));
        }
        let now = OffsetDateTime::now_utc();
        let name = format!(
            "{}/{}/{}/{}/{}/{}.json",
            self.name.to_uppercase(),
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            uuid::Uuid::new_v4()
        );
        let written = async {
            self.storage.ensure_container(container).await?;
            self.storage
                .put_blob(
                    container,
                    &name,
                    serde_json::to_vec(&json!([event])).unwrap_or_default(),
                    "application/json",
                )
                .await
        };
        if let Err(e) = written.await {
            log::error!("Event Grid: the dead letter `{container}/{name}` was lost: {e}");
        }
    }
}

/// Why an attempt failed.
#[derive(Debug)]
enum Failure {
    /// No answer within the wait.
    TimedOut,
    /// The webhook answered 500: the function failed.
    Failed(String),
}

impl Failure {
    fn describe(&self, wait: Duration) -> String {
        match self {
            Failure::TimedOut => format!("no answer within {:.1} s", wait.as_secs_f64()),
            Failure::Failed(e) => format!("the function failed: {e}"),
        }
    }

    /// `lastDeliveryOutcome`: `TimedOut` is documented; the docs give no outcome for a 500,
    /// and `Busy` is the nearest of those they list.
    fn outcome(&self) -> &'static str {
        match self {
            Failure::TimedOut => "TimedOut",
            Failure::Failed(_) => "Busy",
        }
    }
}

fn subject(event: &Value) -> &str {
    event
        .get("subject")
        .and_then(Value::as_str)
        .unwrap_or("an event")
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_values(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn the_schedule_is_event_grids_and_its_last_step_repeats() {
        let policy = DeliveryPolicy::default();
        let minutes: Vec<u64> = (2..=13).map(|a| policy.delay_before(a).as_secs()).collect();
        assert_eq!(
            minutes,
            [
                10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200, 43200, 43200
            ]
        );
        assert_eq!(policy.wait, Duration::from_secs(30));
        assert_eq!(policy.max_attempts, 30);
        assert_eq!(policy.dead_letter.as_deref(), Some(DEFAULT_DEAD_LETTER));
    }

    #[test]
    fn settings_shorten_the_times_and_bad_ones_are_named() {
        let policy = DeliveryPolicy::from_settings(&settings(&[
            (WAIT_SETTING, "0.5"),
            (TIME_SCALE_SETTING, "0.01"),
            (MAX_ATTEMPTS_SETTING, "3"),
            (DEAD_LETTER_SETTING, ""),
        ]))
        .unwrap();
        assert_eq!(policy.wait, Duration::from_millis(500));
        assert_eq!(policy.delay_before(2), Duration::from_millis(100));
        assert_eq!(policy.max_attempts, 3);
        assert_eq!(policy.dead_letter, None);
        for (name, bad) in [
            (WAIT_SETTING, "0"),
            (TIME_SCALE_SETTING, "fast"),
            (TIME_SCALE_SETTING, "1e20"),
            (MAX_ATTEMPTS_SETTING, "31"),
            (MAX_ATTEMPTS_SETTING, "2.5"),
        ] {
            let e = DeliveryPolicy::from_settings(&settings(&[(name, bad)])).unwrap_err();
            assert!(e.contains(name), "{e}");
        }
    }
}
