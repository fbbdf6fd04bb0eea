//! Reading a whole request body into memory, bounded, for both servers' routes.
//!
//! actix-web's `to_bytes_limited` starts every body of unknown size (which a `Payload` always
//! reports) at 32 KiB and doubles from there. A one-row request pays for an allocation it
//! does not need; a 1 MB batch is copied six times into fresh pages. `collect` hands on a
//! body that arrives in one piece as it came, with no copy, and puts a longer one into one
//! buffer the size its `Content-Length` declares.

use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use actix_http::error::PayloadError;
use actix_http::header::{CONTENT_LENGTH, HeaderMap};
use actix_web::web::{Bytes, BytesMut};
use futures_core::Stream;

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// More than the limit, declared or sent.
    TooLarge,
    /// The stream failed: the connection broke, the body ended early, a decoder failed.
    Unreadable(PayloadError),
    /// The whole body did not arrive within the time allowed.
    TimedOut,
}

/// A route's whole body: at most `limit` bytes (a declared `Content-Length` over it refused
/// before anything is read), all of it within `timeout`. Each server maps the errors to its
/// own answers.
pub async fn read<S>(
    headers: &HeaderMap,
    payload: S,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    let declared = declared_length(headers);
    within(timeout, collect(payload, declared, limit))
        .await
        .unwrap_or(Err(BodyError::TimedOut))
}

/// The `Content-Length` a request declares, when it declares a valid one.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse::<u64>()
        .ok()
}

/// The whole body, at most `limit` bytes. A `declared` length over `limit` is refused before
/// anything is read; otherwise the limit is checked against what arrives, chunk by chunk.
async fn collect<S>(mut payload: S, declared: Option<u64>, limit: usize) -> Result<Bytes, BodyError>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut next = async || {
        std::future::poll_fn(|cx| Pin::new(&mut payload).poll_next(cx))
            .await
            .transpose()
            .map_err(BodyError::Unreadable)
    };
    let Some(first) = next().await? else {
        return Ok(Bytes::new());
    };
    if first.len() > limit {
        return Err(BodyError::TooLarge);
    }
    let Some(mut chunk) = next().await? else {
        return Ok(first);
    };
    // At most `limit`, so it fits.
    let capacity = declared.map_or(0, |n| n as usize);
    let mut body = BytesMut::with_capacity(capacity.max(first.len()));
    body.extend_from_slice(&first);
    loop {
        if chunk.len() > limit - body.len() {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
        match next().await? {
            Some(more) => chunk = more,
            None => return Ok(body.freeze()),
        }
    }
}

/// `future`'s output, or `None` once `timeout` has passed. A future that is ready when first
/// polled (a small body, already in the connection's buffer) answers without a timer ever
/// being armed: registering one in tokio's wheel and taking it out again was a tenth of a
/// one-row request's own work.
async fn within<F: Future>(timeout: Duration, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await {
        Poll::Ready(output) => Some(output),
        Poll::Pending => tokio::time::timeout(timeout, future).await.ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream of `chunks`, as a payload delivers them.
    fn chunks(pieces: &[&[u8]]) -> Iter {
        let mut items: Vec<Result<Bytes, PayloadError>> = pieces
            .iter()
            .map(|p| Ok(Bytes::copy_from_slice(p)))
            .collect();
        items.reverse();
        Iter(items)
    }

    /// Items in reverse: the last is delivered first.
    struct Iter(Vec<Result<Bytes, PayloadError>>);

    impl Stream for Iter {
        type Item = Result<Bytes, PayloadError>;
        fn poll_next(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.pop())
        }
    }

    /// A runtime whose clock moves only when every task waits: timeouts without waiting.
    fn paused() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    }

    /// A stream that never delivers anything, as a client that stops sending.
    struct Never;

    impl Stream for Never {
        type Item = Result<Bytes, PayloadError>;
        fn poll_next(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Pending
        }
    }

    fn run<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_body_in_one_piece_is_handed_on_without_a_copy() {
        let stream = chunks(&[b"{\"a\":1}"]);
        let piece = stream.0[0].as_ref().map(|b| b.as_ptr()).unwrap();
        let body = run(collect(stream, Some(7), 7)).unwrap();
        assert_eq!(&body[..], b"{\"a\":1}");
        assert_eq!(body.as_ptr(), piece, "the chunk itself, not a copy");
    }

    #[test]
    fn pieces_are_joined_in_order_up_to_the_limit_exactly() {
        for declared in [None, Some(10), Some(3)] {
            let body = run(collect(
                chunks(&[b"abc", b"", b"defg", b"hij"]),
                declared,
                10,
            ));
            assert_eq!(&body.unwrap()[..], b"abcdefghij", "{declared:?}");
        }
        for pieces in [
            &[&b"abc"[..], b"defg", b"hijk"][..],
            &[b"abcdefghijk"],
            &[b"abcdefghij", b"k"],
        ] {
            assert!(matches!(
                run(collect(chunks(pieces), None, 10)),
                Err(BodyError::TooLarge)
            ));
        }
        assert_eq!(&run(collect(chunks(&[]), None, 10)).unwrap()[..], b"");
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_reading() {
        let mut stream = chunks(&[b"x"]);
        // The stream fails if it is read at all.
        stream.0.push(Err(PayloadError::Incomplete(None)));
        assert!(matches!(
            run(collect(stream, Some(11), 10)),
            Err(BodyError::TooLarge)
        ));
    }

    #[test]
    fn a_failing_stream_is_unreadable_whenever_it_fails() {
        for at in 0..3 {
            let mut stream = chunks(&[b"ab", b"cd"]);
            stream.0.insert(2 - at, Err(PayloadError::Incomplete(None)));
            assert!(
                matches!(
                    run(collect(stream, None, 10)),
                    Err(BodyError::Unreadable(PayloadError::Incomplete(_)))
                ),
                "{at}"
            );
        }
    }

    #[test]
    fn read_gives_the_body_or_says_which_bound_it_broke() {
        paused().block_on(async {
            let timeout = Duration::from_secs(20);
            let mut headers = HeaderMap::new();
            let body = read(&headers, chunks(&[b"ab", b"cd"]), 4, timeout).await;
            assert_eq!(&body.unwrap()[..], b"abcd");
            let over = read(&headers, chunks(&[b"ab", b"cde"]), 4, timeout).await;
            assert!(matches!(over, Err(BodyError::TooLarge)), "{over:?}");
            headers.insert(CONTENT_LENGTH, "5".parse().unwrap());
            let declared = read(&headers, chunks(&[b"ab"]), 4, timeout).await;
            assert!(matches!(declared, Err(BodyError::TooLarge)), "{declared:?}");
            // A body that never ends is cut off at the timeout.
            let start = tokio::time::Instant::now();
            let late = read(&HeaderMap::new(), Never, 4, timeout).await;
            assert!(matches!(late, Err(BodyError::TimedOut)), "{late:?}");
            assert_eq!(start.elapsed(), timeout);
        });
    }

    #[test]
    fn within_answers_a_ready_future_and_times_out_a_slow_one() {
        paused().block_on(async {
            let limit = Duration::from_secs(20);
            assert_eq!(within(limit, async { 7 }).await, Some(7));
            let late = tokio::time::sleep(Duration::from_secs(21));
            assert_eq!(within(limit, late).await, None);
            let in_time = async {
                tokio::time::sleep(Duration::from_secs(19)).await;
                8
            };
            assert_eq!(within(limit, in_time).await, Some(8));
            // A future that never finishes is cut off at the limit, not before.
            let start = tokio::time::Instant::now();
            assert_eq!(within(limit, std::future::pending::<()>()).await, None);
            assert_eq!(start.elapsed(), limit);
        });
    }

    #[test]
    fn the_declared_length_is_read_from_the_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(declared_length(&headers), None);
        headers.insert(CONTENT_LENGTH, "42".parse().unwrap());
        assert_eq!(declared_length(&headers), Some(42));
        headers.insert(CONTENT_LENGTH, "4x".parse().unwrap());
        assert_eq!(declared_length(&headers), None);
    }
}
