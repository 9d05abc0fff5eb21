//! A stand-in for Amazon Rekognition on loopback, for the adapter's tests: it speaks the service's JSON 1.1
//! protocol (`X-Amz-Target: RekognitionService.<Operation>`), answers each operation with the answer recorded
//! for it, and keeps every request it received, so a test asserts what the SDK sent.
//!
//! The AWS emulator has no Rekognition; this checks the adapter's requests and its reading of the answers,
//! not the service's judgement of faces.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One request the stand-in received: the operation (`CreateFaceLivenessSession`, ...) and its JSON body.
#[derive(Debug, Clone)]
pub struct Received {
    pub operation: String,
    pub content_type: String,
    pub body: Value,
}

/// A recorded answer: the HTTP status and the JSON body (for an error, `{"__type": "...", "Message": "..."}`).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub status: u16,
    pub body: Value,
}

#[derive(Default)]
struct State {
    answers: HashMap<String, Vec<Recorded>>,
    received: Vec<Received>,
}

/// The running stand-in; it stops when dropped (its task is aborted).
pub struct RekognitionStandIn {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RekognitionStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RekognitionStandIn {
    pub async fn start() -> RekognitionStandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(&state, request).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        RekognitionStandIn { endpoint, state, task }
    }

    /// Answers a later call of `operation` with `status` and `body`: each recorded answer once, in the order
    /// recorded; a call with none left is answered with an error.
    pub fn record(&self, operation: &str, status: u16, body: Value) {
        let mut state = self.state.lock().expect("state");
        state
            .answers
            .entry(operation.to_string())
            .or_default()
            .push(Recorded { status, body });
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("state").received.clone()
    }

    /// A Rekognition client of the real SDK pointed at the stand-in, with test credentials.
    pub fn client(&self) -> aws_sdk_rekognition::Client {
        let config = aws_sdk_rekognition::Config::builder()
            .behavior_version(aws_sdk_rekognition::config::BehaviorVersion::latest())
            .region(aws_sdk_rekognition::config::Region::new("cn-north-1"))
            .credentials_provider(aws_sdk_rekognition::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_rekognition::Client::from_conf(config)
    }
}

async fn answer(state: &Mutex<State>, request: hyper::Request<hyper::body::Incoming>) -> hyper::Response<Full<Bytes>> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let target = header("x-amz-target");
    let content_type = header("content-type");
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let operation = target
        .strip_prefix("RekognitionService.")
        .unwrap_or(&target)
        .to_string();
    let recorded = {
        let mut state = state.lock().expect("state");
        state.received.push(Received {
            operation: operation.clone(),
            content_type,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        match state.answers.get_mut(&operation) {
            Some(answers) if !answers.is_empty() => Some(answers.remove(0)),
            _ => None,
        }
    };
    let recorded = recorded.unwrap_or(Recorded {
        status: 400,
        body: serde_json::json!({ "__type": "UnknownOperationException", "Message": format!("no answer recorded for {target}") }),
    });
    hyper::Response::builder()
        .status(recorded.status)
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from(recorded.body.to_string())))
        .expect("response")
}
