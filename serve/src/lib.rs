//! Serving an actix-web app on a listener the way both our servers need.
//!
//! [`serve`] builds what `actix_web::HttpServer::listen` builds (an actix-server listener
//! running actix-http's HTTP/1 service), with two differences that `HttpServer` has no hook
//! for:
//! - every connection goes through [`fixed_answers::Stream`], so the answers actix-http writes
//!   itself (a malformed request, a head too large or too slow) are JSON like every other
//!   error;
//! - a [`Drain`] counts the connections, so [`Drain::stop`] can stop without dropping a
//!   request a client has already sent.

pub mod body;
pub mod fixed_answers;

use std::any::Any;
use std::fmt;
use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_http::body::{BodySize, MessageBody};
use actix_http::{HttpService, Request, Response};
use actix_service::{IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt, fn_service};
use actix_web::dev::{AppConfig, Server};
use actix_web::error::Error;
use drain::Drain;
use fixed_answers::Stream;
use tokio::net::TcpStream;

/// How the server runs; the defaults are `HttpServer`'s.
#[derive(Clone, Debug)]
pub struct Options {
    /// Worker threads; `None` is one per core.
    pub workers: Option<usize>,
    /// How long in-flight requests may take to finish once the server stops.
    pub shutdown_timeout: Duration,
    /// How long a request head may take to arrive (then 408).
    pub head_timeout: Duration,
    /// After an early answer (408, 413) to a body still arriving, how long the rest is read
    /// and dropped before closing, so the client sees the answer rather than a reset.
    pub disconnect_timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            workers: None,
            shutdown_timeout: Duration::from_secs(30),
            head_timeout: Duration::from_secs(5),
            disconnect_timeout: Duration::from_secs(1),
        }
    }
}

/// A running server and its drain.
pub struct Serving {
    /// Await it to serve until stopped.
    pub server: Server,
    /// Stop through it ([`Drain::stop`]), not `ServerHandle::stop`.
    pub drain: Arc<Drain>,
}

impl fmt::Debug for Serving {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serving")
            .field("drain", &self.drain)
            .finish()
    }
}

/// Serves the app `factory` builds (once per worker) on `listener`. OS signals are left to the
/// caller. The app should `.wrap(drain::CloseWhenDraining)`. Call inside an actix
/// runtime.
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    options: &Options,
    factory: F,
) -> io::Result<Serving>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let local = listener.local_addr()?;
    let drain = Arc::new(Drain::new(&listener)?);
    let mut builder = Server::build()
        .disable_signals()
        .shutdown_timeout(options.shutdown_timeout.as_secs());
    if let Some(workers) = options.workers {
        builder = builder.workers(workers);
    }
    let shutdown = builder.graceful_shutdown_signal();
    let on_connect = Arc::new(drain.on_connect());
    let options = options.clone();
    let server = builder
        .listen("http", listener, move || {
            let shutdown = shutdown.clone();
            let on_connect = Arc::clone(&on_connect);
            let head_timeout = options.head_timeout;
            let app = factory()
                .into_factory()
                .map_err(|e| e.into().error_response());
            let app = actix_service::map_config(app, |_| AppConfig::default());
            // No answer of the app may look like one of actix-http's (see `fixed_answers`).
            let app = actix_service::apply_fn_factory(app, |request: Request, service: &_| {
                let answer = Service::call(service, request);
                async move {
                    match answer.await {
                        Ok(answer) => {
                            let mut answer: Response<B> = answer.into();
                            let empty = is_empty(answer.body().size());
                            fixed_answers::mark_app_answer(
                                answer.status(),
                                empty,
                                answer.headers_mut(),
                            );
                            Ok(answer)
                        }
                        // An error the app turned into an answer is the app's answer too.
                        Err(mut error) => {
                            let empty = is_empty(error.body().size());
                            fixed_answers::mark_app_answer(
                                error.status(),
                                empty,
                                error.headers_mut(),
                            );
                            Err(error)
                        }
                    }
                }
            });
            let http = HttpService::build()
                // actix-web closes idle keep-alive connections at once on a graceful stop.
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .client_request_timeout(head_timeout)
                .client_disconnect_timeout(options.disconnect_timeout)
                .local_addr(local)
                .on_connect_ext(move |io: &Stream<TcpStream>, data| {
                    on_connect(io as &dyn Any, data)
                })
                .h1(app);
            fn_service(move |io: TcpStream| {
                let peer = io.peer_addr().ok();
                std::future::ready(Ok((Stream::new(io, head_timeout), peer)))
            })
            .and_then(http)
        })?
        .run();
    Ok(Serving { server, drain })
}

fn is_empty(size: BodySize) -> bool {
    matches!(size, BodySize::None | BodySize::Sized(0))
}
