//! Timer schedules: six-field NCRONTAB expressions (`sec min hour day month day-of-week`, UTC)
//! and `hh:mm:ss` intervals, as function.json `schedule` accepts them.
//!
//! Like NCrontab (which the host uses), a day must match BOTH the day-of-month and the
//! day-of-week fields; classic cron ORs them when both are restricted.

use functions_custom_handler_protocol::host_json::TimeSpan;
use std::time::Duration;
use time::{Date, OffsetDateTime, Time};

/// A parsed timer schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// An NCRONTAB expression.
    Cron(Cron),
    /// A fixed interval from the previous occurrence (the host's TimeSpan schedules).
    Every(Duration),
}

/// The six NCRONTAB fields as sets of allowed values (bit `n` set = value `n` allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Schedule {
    /// Parses a schedule; the error is one sentence naming the field at fault.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.contains(':') {
            let span: TimeSpan = trimmed.parse()?;
            if span.as_duration().is_zero() {
                return Err(format!("the schedule `{text}` is a zero interval"));
            }
            return Ok(Self::Every(span.as_duration()));
        }
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        let [sec, min, hour, day, month, weekday] = fields.as_slice() else {
            return Err(format!(
                "the schedule `{text}` has {} fields; NCRONTAB needs six: second minute hour day month day-of-week",
                fields.len()
            ));
        };
        Ok(Self::Cron(Cron {
            seconds: field(sec, "second", 0, 59, &[])?,
            minutes: field(min, "minute", 0, 59, &[])?,
            hours: field(hour, "hour", 0, 23, &[])?,
            days: field(day, "day", 1, 31, &[])?,
            months: field(month, "month", 1, 12, &MONTHS)?,
            weekdays: field(weekday, "day-of-week", 0, 6, &WEEKDAYS)?,
        }))
    }

    /// The first occurrence strictly after `after`, at whole-second precision.
    pub fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Self::Every(interval) => Some(after + *interval),
            Self::Cron(cron) => cron.next_after(after),
        }
    }
}

fn field(text: &str, what: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let bad = |why: &str| format!("the {what} field `{text}` {why}");
    let value = |s: &str| -> Result<u32, String> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            // Names count from the field's minimum (January = 1, Sunday = 0).
            return Ok(min + i as u32);
        }
        let v: u32 = s
            .parse()
            .map_err(|_| bad(&format!("has `{s}`, which is not a number")))?;
        if v < min || v > max {
            return Err(bad(&format!("has {v}, outside {min}-{max}")));
        }
        Ok(v)
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    bad(&format!(
                        "has the step `{step}`, which is not a positive number"
                    ))
                })?;
                (range, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(bad(&format!("has the range {a}-{b}, which runs backwards")));
            }
            (a, b)
        } else {
            let a = value(range)?;
            // `a/n` means from a to the maximum in steps of n.
            (a, if part.contains('/') { max } else { a })
        };
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

fn has(bits: u64, v: u32) -> bool {
    bits & (1 << v) != 0
}

impl Cron {
    fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let after = after.to_offset(time::UtcOffset::UTC);
        let start = after.replace_nanosecond(0).ok()? + Duration::from_secs(1);
        let mut date = start.date();
        // Every valid expression fires within a few years (Feb 29 on a given weekday: < 28).
        for _ in 0..(366 * 30) {
            if self.day_matches(date) {
                let first_day = date == start.date();
                let (h0, m0, s0) = if first_day {
                    (
                        start.hour() as u32,
                        start.minute() as u32,
                        start.second() as u32,
                    )
                } else {
                    (0, 0, 0)
                };
                for h in h0..24 {
                    if !has(self.hours, h) {
                        continue;
                    }
                    let m_from = if first_day && h == h0 { m0 } else { 0 };
                    for m in m_from..60 {
                        if !has(self.minutes, m) {
                            continue;
                        }
                        let s_from = if first_day && h == h0 && m == m0 {
                            s0
                        } else {
                            0
                        };
                        if let Some(s) = (s_from..60).find(|s| has(self.seconds, *s)) {
                            let time = Time::from_hms(h as u8, m as u8, s as u8).ok()?;
                            return Some(date.with_time(time).assume_utc());
                        }
                    }
                }
            }
            date = date.next_day()?;
        }
        None
    }

    fn day_matches(&self, date: Date) -> bool {
        has(self.months, u8::from(date.month()) as u32)
            && has(self.days, date.day() as u32)
            && has(
                self.weekdays,
                date.weekday().number_days_from_sunday() as u32,
            )
    }
}

/// One timer-triggered function: fires on its schedule until shutdown. Occurrences never
/// overlap: the next one is computed after the current invocation finishes, as on the host.
#[derive(Debug, Clone)]
pub struct TimerListener {
    /// The function.
    pub function: std::sync::Arc<crate::config::FunctionSpec>,
    /// Its trigger.
    pub trigger: functions_custom_handler_protocol::function_json::TimerTrigger,
    /// Runs the invocations.
    pub invoker: std::sync::Arc<crate::invocation::Invoker>,
}

impl TimerListener {
    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: tokio_util::sync::CancellationToken) {
        let schedule = match Schedule::parse(&self.trigger.schedule) {
            Ok(schedule) => schedule,
            Err(e) => {
                // Config loading validated the schedule; this is unreachable in practice.
                log::error!("function `{}`: {e}", self.function.name);
                return;
            }
        };
        let mut last: Option<OffsetDateTime> = None;
        if self.trigger.run_on_startup == Some(true) {
            let now = OffsetDateTime::now_utc();
            self.fire(&schedule, last, now, false).await;
            last = Some(now);
        }
        loop {
            let Some(next) = schedule.next_after(OffsetDateTime::now_utc()) else {
                log::warn!("the schedule of `{}` never fires again", self.function.name);
                return;
            };
            let wait = (next - OffsetDateTime::now_utc())
                .try_into()
                .unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => return,
            }
            let late = OffsetDateTime::now_utc() - next > time::Duration::seconds(1);
            self.fire(&schedule, last, next, late).await;
            last = Some(next);
        }
    }

    async fn fire(
        &self,
        schedule: &Schedule,
        last: Option<OffsetDateTime>,
        this: OffsetDateTime,
        past_due: bool,
    ) {
        let now = OffsetDateTime::now_utc();
        let last = last
            .map(crate::binding_data::format_offset)
            .unwrap_or_else(|| NEVER.to_string());
        let next = schedule
            .next_after(this.max(now))
            .map(crate::binding_data::format_offset);
        let value = timer_value(
            &last,
            next.as_deref(),
            &crate::binding_data::format_offset(now),
            past_due,
        );
        let mut data = serde_json::Map::new();
        data.insert(self.trigger.name.to_string(), value);
        let binding_data = crate::binding_data::BindingData::new(&self.function.name);
        let id = uuid::Uuid::new_v4().to_string();
        // Failures are logged by the invoker; a timer does not retry.
        let _ = self
            .invoker
            .invoke(&self.function, &id, data, binding_data)
            .await;
    }
}

/// `ScheduleStatus.Last` of a timer that never ran: the host reports `DateTime.MinValue`.
pub(crate) const NEVER: &str = "0001-01-01T00:00:00";

/// The timer trigger value: a `TimerInfo`, which the host sends as an object (`JObject.FromObject`
/// in ScriptInvocationContextExtensions.cs; `TimerInfo.cs` in WebJobs.Extensions).
pub(crate) fn timer_value(
    last: &str,
    next: Option<&str>,
    last_updated: &str,
    past_due: bool,
) -> serde_json::Value {
    serde_json::json!({
        "Schedule": {"AdjustForDST": true},
        "ScheduleStatus": {"Last": last, "Next": next, "LastUpdated": last_updated},
        "IsPastDue": past_due,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn next(schedule: &str, after: OffsetDateTime) -> OffsetDateTime {
        Schedule::parse(schedule)
            .unwrap()
            .next_after(after)
            .unwrap()
    }

    #[test]
    fn every_five_minutes() {
        let t = datetime!(2024-03-10 10:02:30 UTC);
        assert_eq!(next("0 */5 * * * *", t), datetime!(2024-03-10 10:05:00 UTC));
        assert_eq!(
            next("0 */5 * * * *", datetime!(2024-03-10 10:05:00 UTC)),
            datetime!(2024-03-10 10:10:00 UTC)
        );
    }

    #[test]
    fn every_second_and_lists_and_ranges() {
        let t = datetime!(2024-03-10 10:00:00.5 UTC);
        assert_eq!(next("* * * * * *", t), datetime!(2024-03-10 10:00:01 UTC));
        assert_eq!(
            next("5,10 * * * * *", t),
            datetime!(2024-03-10 10:00:05 UTC)
        );
        assert_eq!(
            next("0 0 9-17 * * *", t),
            datetime!(2024-03-10 11:00:00 UTC)
        );
        assert_eq!(
            next("0 0 23 * * *", datetime!(2024-12-31 23:30:00 UTC)),
            datetime!(2025-01-01 23:00:00 UTC)
        );
    }

    #[test]
    fn weekdays_months_and_names() {
        // 2024-03-10 is a Sunday.
        let t = datetime!(2024-03-10 12:00:00 UTC);
        assert_eq!(
            next("0 30 9 * * 1-5", t),
            datetime!(2024-03-11 09:30:00 UTC)
        );
        assert_eq!(
            next("0 30 9 * * Mon-Fri", t),
            datetime!(2024-03-11 09:30:00 UTC)
        );
        assert_eq!(next("0 0 0 1 Jun *", t), datetime!(2024-06-01 00:00:00 UTC));
        assert_eq!(next("0 0 0 29 2 *", t), datetime!(2028-02-29 00:00:00 UTC));
        // Day and weekday must both match (NCrontab), unlike classic cron.
        assert_eq!(next("0 0 0 13 * 5", t), datetime!(2024-09-13 00:00:00 UTC));
    }

    #[test]
    fn steps_from_a_start_value() {
        let t = datetime!(2024-03-10 10:00:00 UTC);
        assert_eq!(
            next("10/20 * * * * *", t),
            datetime!(2024-03-10 10:00:10 UTC)
        );
        assert_eq!(
            next("10/20 * * * * *", datetime!(2024-03-10 10:00:31 UTC)),
            datetime!(2024-03-10 10:00:50 UTC)
        );
    }

    #[test]
    fn intervals() {
        let t = datetime!(2024-03-10 10:00:00 UTC);
        assert_eq!(next("00:00:30", t), datetime!(2024-03-10 10:00:30 UTC));
    }

    #[test]
    fn bad_schedules_are_sentences() {
        for (text, expected) in [
            ("* * * * *", "has 5 fields"),
            ("60 * * * * *", "the second field `60` has 60, outside 0-59"),
            ("* * * * * 7", "outside 0-6"),
            ("*/0 * * * * *", "not a positive number"),
            ("5-1 * * * * *", "runs backwards"),
            ("x * * * * *", "`x`, which is not a number"),
            ("00:00:00", "zero interval"),
        ] {
            let err = Schedule::parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
