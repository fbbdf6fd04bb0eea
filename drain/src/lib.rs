//! Stopping an actix-web server without dropping a request a client has already sent.
//!
//! actix-web's own graceful stop closes idle keep-alive connections at once. A client that
//! sends its next request on such a connection a moment before gets the connection reset,
//! and cannot tell whether the server read the request. Under keep-alive load (App Service's
//! front end, the Functions host) that happens to dozens of requests per stop.
//!
//! [`Drain::stop`] stops in an order that leaves no such window under load:
//! 1. stop accepting, and shut the listening socket, so new connections are refused (a
//!    refused connection was never read, so a client can retry it safely);
//! 2. answer every request that arrives on an open connection with `Connection: close`;
//! 3. once every connection has closed, or after the drain window, stop the server
//!    gracefully: idle connections left over are closed, in-flight requests finish.

#[cfg(feature = "loader")]
pub mod loader;

use std::any::Any;
use std::io;
use std::net::{Shutdown, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use std::future::{Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::dev::{
    Extensions, ServerHandle, Service, ServiceRequest, ServiceResponse, Transform,
};
use actix_web::http::ConnectionType;
use tokio::time::Instant;

/// How often [`Drain::stop`] looks whether every connection has closed.
const POLL: Duration = Duration::from_millis(5);

/// What every connection of one server shares: whether the server is draining, and how many
/// connections are open.
#[derive(Debug, Default)]
struct Shared {
    draining: AtomicBool,
    open: AtomicUsize,
}

/// Held in each connection's data for as long as the connection lives.
struct Connection(Arc<Shared>);

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The drain of one server: build it from the listener before handing the listener to the
/// server (`serve::serve` does both), register [`Drain::on_connect`] and
/// [`CloseWhenDraining`], and call [`Drain::stop`] instead of `ServerHandle::stop`.
#[derive(Debug)]
pub struct Drain {
    shared: Arc<Shared>,
    listener: socket2::Socket,
}

impl Drain {
    /// A drain for the server that will serve `listener` (a second handle to the same socket).
    pub fn new(listener: &TcpListener) -> io::Result<Drain> {
        Ok(Drain {
            shared: Arc::default(),
            listener: socket2::Socket::from(listener.try_clone()?),
        })
    }

    /// For the server's on-connect hook: counts each connection until it closes.
    pub fn on_connect(&self) -> impl Fn(&dyn Any, &mut Extensions) + Send + Sync + 'static {
        let shared = Arc::clone(&self.shared);
        move |_, extensions| {
            shared.open.fetch_add(1, Ordering::SeqCst);
            extensions.insert(Connection(Arc::clone(&shared)));
        }
    }

    /// The connections open now.
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Stops the server (see the crate documentation) and returns once it has stopped.
    /// `window` bounds how long idle connections are left open for a last request.
    pub async fn stop(&self, handle: &ServerHandle, window: Duration) {
        handle.pause().await;
        // Linux: a shut listening socket refuses new connections and resets those waiting in
        // its backlog, which nobody has read from.
        if let Err(e) = self.listener.shutdown(Shutdown::Read) {
            log::warn!(
                "cannot close the listening socket early ({e}); new connections wait in its backlog until the server stops"
            );
        }
        self.shared.draining.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + window;
        while self.open_connections() > 0 && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
        let left = self.open_connections();
        if left > 0 {
            log::info!("closing {left} idle connection(s) left after the drain window");
        }
        handle.stop(true).await;
    }
}

/// Middleware (`.wrap(drain::CloseWhenDraining)`): once the server drains, every response
/// closes its connection, so the client sends its next request on a new one, which is refused.
/// A `Transform` rather than `from_fn`, which boxes two futures per request.
#[derive(Clone, Copy, Debug, Default)]
pub struct CloseWhenDraining;

impl<S, B> Transform<S, ServiceRequest> for CloseWhenDraining
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = CloseWhenDrainingService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CloseWhenDrainingService { service }))
    }
}

/// [`CloseWhenDraining`] around one worker's app.
#[derive(Debug)]
pub struct CloseWhenDrainingService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for CloseWhenDrainingService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = Closing<S::Future>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        Closing {
            answer: self.service.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The app's answer, closing its connection if the server has begun to drain.
    pub struct Closing<F> {
        #[pin]
        answer: F,
    }
}

impl<F, B> Future for Closing<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut response = std::task::ready!(self.project().answer.poll(cx))?;
        let draining = response
            .request()
            .conn_data::<Connection>()
            .is_some_and(|c| c.0.draining.load(Ordering::SeqCst));
        if draining {
            response
                .response_mut()
                .head_mut()
                .set_connection_type(ConnectionType::Close);
        }
        Poll::Ready(Ok(response))
    }
}
