//! Per-client rate limits on the job routes: anyone can reach the public web app, and every
//! job it queues costs Functions time to score.
//!
//! A client is its address: the `hops`-th `X-Forwarded-For` entry from the right, which is
//! the one App Service's front end appended (entries further left are whatever the client
//! sent), or the peer address when there is no such header, as in a local run.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;

/// How many clients are tracked one by one. When the table is full, clients whose allowance
/// is whole again are forgotten (at most once per [`PRUNE_EVERY`], so a flood of new
/// addresses costs no scan each); until there is room, new clients share one bucket. Memory
/// stays bounded however many addresses a flood comes from.
const MAX_TRACKED_CLIENTS: usize = 100_000;

/// The least time between two scans of a full table.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A token bucket: `per_minute` requests at once, then one every `60 / per_minute` seconds.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: capacity,
            updated: now,
        }
    }

    fn refill(&mut self, capacity: f64, per_second: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_second).min(capacity);
        self.updated = now;
    }
}

/// One limit, shared by every worker of the server.
#[derive(Debug)]
pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    clients: Mutex<Clients>,
}

/// The tracked clients, the bucket the others share, and when the table may next be scanned.
#[derive(Debug)]
struct Clients {
    tracked: HashMap<IpAddr, Bucket>,
    shared: Bucket,
    next_prune: Instant,
}

impl RateLimiter {
    /// At most `per_minute` requests per client in any minute, after a burst of as many.
    pub fn per_minute(per_minute: u32) -> RateLimiter {
        let capacity = f64::from(per_minute.max(1));
        let now = Instant::now();
        RateLimiter {
            capacity,
            per_second: capacity / 60.0,
            clients: Mutex::new(Clients {
                tracked: HashMap::new(),
                shared: Bucket::full(capacity, now),
                next_prune: now,
            }),
        }
    }

    /// Takes one request from `client`'s allowance at `now`, or says how long until it has
    /// one again (whole seconds, at least 1, for `Retry-After`).
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), u64> {
        let mut guard = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let Clients {
            tracked,
            shared,
            next_prune,
        } = &mut *guard;
        let (capacity, per_second) = (self.capacity, self.per_second);
        let known = tracked.contains_key(&client);
        if !known && tracked.len() >= MAX_TRACKED_CLIENTS && now >= *next_prune {
            *next_prune = now + PRUNE_EVERY;
            tracked.retain(|_, b| {
                b.refill(capacity, per_second, now);
                b.tokens < capacity
            });
        }
        let bucket = if known || tracked.len() < MAX_TRACKED_CLIENTS {
            tracked
                .entry(client)
                .or_insert_with(|| Bucket::full(capacity, now))
        } else {
            shared
        };
        bucket.refill(capacity, per_second, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            // The epsilon keeps float noise (6.000000001 s) from adding a second.
            let wait = (1.0 - bucket.tokens) / per_second;
            Err((wait - 1e-6).ceil().max(1.0) as u64)
        }
    }

    /// The clients tracked one by one now.
    pub fn tracked_clients(&self) -> usize {
        self.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .tracked
            .len()
    }
}

/// The client's address: see the module documentation. `hops` is how many proxies append to
/// `X-Forwarded-For` in front of the app (1 on App Service; 0 ignores the header).
pub fn client_address(req: &HttpRequest, hops: usize) -> Option<IpAddr> {
    forwarded_for(req.headers(), hops).or_else(|| req.peer_addr().map(|a| a.ip()))
}

fn forwarded_for(headers: &HeaderMap, hops: usize) -> Option<IpAddr> {
    if hops == 0 {
        return None;
    }
    // Several headers count as one list, in order (RFC 9110, section 5.3).
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let entry = entries.len().checked_sub(hops).map(|i| entries[i])?;
    parse_address(entry)
}

/// `203.0.113.7`, `203.0.113.7:52144` (App Service adds the port), `2001:db8::1` or
/// `[2001:db8::1]:52144`.
fn parse_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};
    use std::time::Duration;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_entry_the_front_end_appended() {
        assert_eq!(
            forwarded_for(&headers(&["203.0.113.7:52144"]), 1),
            Some(ip("203.0.113.7"))
        );
        // What the client wrote itself comes first and is ignored.
        assert_eq!(
            forwarded_for(&headers(&["1.2.3.4, 203.0.113.7"]), 1),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            forwarded_for(&headers(&["1.2.3.4", "203.0.113.7"]), 1),
            Some(ip("203.0.113.7"))
        );
        // Behind one more proxy (say Front Door), the client is one further left.
        assert_eq!(
            forwarded_for(&headers(&["203.0.113.7, 198.51.100.1"]), 2),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            forwarded_for(&headers(&["[2001:db8::1]:443"]), 1),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            forwarded_for(&headers(&["2001:db8::1"]), 1),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            forwarded_for(&headers(&["[2001:db8::1]"]), 1),
            Some(ip("2001:db8::1"))
        );
    }

    #[test]
    fn no_usable_entry_means_the_peer_address_is_used() {
        assert_eq!(forwarded_for(&headers(&[]), 1), None);
        assert_eq!(forwarded_for(&headers(&["unknown"]), 1), None);
        assert_eq!(forwarded_for(&headers(&["203.0.113.7"]), 2), None);
        assert_eq!(forwarded_for(&headers(&["203.0.113.7"]), 0), None);
    }

    #[test]
    fn a_client_gets_its_burst_then_one_request_per_interval() {
        let limiter = RateLimiter::per_minute(6);
        let t0 = Instant::now();
        let a = ip("203.0.113.7");
        for _ in 0..6 {
            assert_eq!(limiter.check(a, t0), Ok(()));
        }
        assert_eq!(limiter.check(a, t0), Err(10));
        assert_eq!(limiter.check(a, t0 + Duration::from_secs(4)), Err(6));
        // Another client is not held back by the first.
        assert_eq!(limiter.check(ip("198.51.100.1"), t0), Ok(()));
        assert_eq!(limiter.check(a, t0 + Duration::from_secs(10)), Ok(()));
        assert_eq!(limiter.check(a, t0 + Duration::from_secs(10)), Err(10));
    }

    #[test]
    fn memory_stays_bounded_however_many_addresses_a_flood_comes_from() {
        let limiter = RateLimiter::per_minute(1);
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED_CLIENTS as u32 + 5_000) {
            let _ = limiter.check(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert_eq!(limiter.tracked_clients(), MAX_TRACKED_CLIENTS);
        // Once the tracked clients' buckets are full again, they make room for new ones.
        let later = t0 + Duration::from_secs(61);
        assert_eq!(limiter.check(ip("203.0.113.7"), later), Ok(()));
        assert_eq!(limiter.tracked_clients(), 1);
    }
}
