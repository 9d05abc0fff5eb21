//! A Lambda Runtime API emulator on loopback that hands out one event per run and notes when the function
//! first asked for it and when it answered; every other request (an AWS call the handler makes, sent here
//! through `AWS_ENDPOINT_URL`) is answered at once with a `ResourceNotFoundException`.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::Notify;

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";

/// How the first invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The function answered (`.../response`) with this body.
    Response(Bytes),
    /// The function reported an error (`.../error`) with this body.
    Error(Bytes),
    /// The function reported that it could not initialise (`/runtime/init/error`).
    InitError(Bytes),
}

/// What the emulator saw during one run.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// When the function first asked for an event: its initialisation is over.
    pub first_next: Option<Instant>,
    /// When the function answered its first event, and how.
    pub finished: Option<(Instant, Outcome)>,
    /// Requests that were not the Runtime API's: AWS calls made during the run.
    pub aws_calls: u32,
}

#[derive(Default)]
struct Run {
    event: Bytes,
    request_id: String,
    served: bool,
    observed: Observed,
}

#[derive(Default)]
struct Shared {
    run: Mutex<Run>,
    changed: Notify,
}

impl Shared {
    fn run(&self) -> MutexGuard<'_, Run> {
        // A handler that panicked while holding the lock left the run half-noted; the benchmark reads what is there.
        self.run.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The emulator, serving on `127.0.0.1` until dropped.
pub struct Emulator {
    address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Emulator {
    /// Binds a free loopback port and serves on it.
    pub async fn start() -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let serving = shared.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(shared.clone(), request));
                    // A function killed mid-request drops its connection: nothing to report.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Emulator {
            address,
            shared,
            server,
        })
    }

    /// What a function is given as `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> String {
        self.address.to_string()
    }

    /// What a function is given as `AWS_ENDPOINT_URL`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Starts a run: the next function to ask gets `event`, once.
    pub fn begin(&self, event: Bytes, request_id: &str) {
        *self.shared.run() = Run {
            event,
            request_id: request_id.to_string(),
            served: false,
            observed: Observed::default(),
        };
    }

    /// What the run has seen so far.
    pub fn observed(&self) -> Observed {
        self.shared.run().observed.clone()
    }

    /// Waits until the run's first invocation ends (or initialisation fails); `None` if nothing more happens
    /// by `deadline`.
    pub async fn finished(&self, deadline: tokio::time::Instant) -> Option<Observed> {
        loop {
            let changed = self.shared.changed.notified();
            let observed = self.observed();
            if observed.finished.is_some() {
                return Some(observed);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let arrived = Instant::now();
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    if method == Method::GET && path == NEXT {
        let handout = {
            let mut run = shared.run();
            run.observed.first_next.get_or_insert(arrived);
            if run.served {
                None
            } else {
                run.served = true;
                Some((run.event.clone(), run.request_id.clone()))
            }
        };
        shared.changed.notify_waiters();
        let Some((event, request_id)) = handout else {
            // One event per run: the function waits here, as between invocations on Lambda, until it is stopped.
            return std::future::pending().await;
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|now| now.as_millis() + 10_000)
            .unwrap_or_default();
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", request_id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:000000000000:function:coldstart",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Sampled=0",
            )
            .body(Full::new(event))
            .unwrap_or_default());
    }
    let body = request.into_body().collect().await?.to_bytes();
    let outcome = if method == Method::POST && path == INIT_ERROR {
        Some(Outcome::InitError(body))
    } else if method == Method::POST && path.starts_with(INVOCATION) && path.ends_with("/response") {
        Some(Outcome::Response(body))
    } else if method == Method::POST && path.starts_with(INVOCATION) && path.ends_with("/error") {
        Some(Outcome::Error(body))
    } else {
        None
    };
    match outcome {
        Some(outcome) => {
            shared.run().observed.finished.get_or_insert((arrived, outcome));
            shared.changed.notify_waiters();
            Ok(Response::builder()
                .status(StatusCode::ACCEPTED)
                .body(Full::new(Bytes::from_static(b"{}")))
                .unwrap_or_default())
        }
        None => {
            shared.run().observed.aws_calls += 1;
            Ok(Response::builder()
                .status(StatusCode::BAD_REQUEST)
                .header("content-type", "application/x-amz-json-1.0")
                .header("x-amzn-errortype", "ResourceNotFoundException")
                .body(Full::new(Bytes::from_static(
                    br#"{"__type":"ResourceNotFoundException","message":"the cold-start benchmark answers every AWS call with this"}"#,
                )))
                .unwrap_or_default())
        }
    }
}
