//! A fault-injecting HTTP proxy on loopback for the tests: it sits between the real aws-sdk clients and the AWS
//! emulator and, by rule on the operation (the `X-Amz-Target` header: `TrentService.Sign`,
//! `DynamoDB_20120810.TransactWriteItems`, `AWSEvents.PutEvents`), answers the next N calls with the error AWS
//! sends (or drops the connection) instead of forwarding them; every other call is forwarded unchanged.
//!
//! It belongs to the tests: what it injects is what the services answer under load or in an outage, so the
//! adapters' and the SDK's handling of them (retries, backoff, error mapping) runs as it would in AWS.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the proxy answers instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// KMS over its request quota: 400 `ThrottlingException` (the shared ECC signing quota).
    KmsThrottling,
    /// DynamoDB over a partition's or the table's throughput: 400 `ProvisionedThroughputExceededException`.
    DynamoThroughputExceeded,
    /// DynamoDB throttling the account's control or data plane: 400 `ThrottlingException`.
    DynamoThrottling,
    /// Any service unavailable for a moment: 503.
    Unavailable,
    /// EventBridge's internal failure: 500 `InternalException`.
    EventsInternal,
    /// EventBridge took the request but refused the entry: 200 with `FailedEntryCount` 1 (the SDK does not retry).
    EventsFailedEntry,
    /// The connection closes before an answer (a reset or a crash on the way).
    Drop,
}

impl Fault {
    /// The status and JSON body AWS answers with, in the service's protocol (awsJson 1.0 / 1.1).
    fn answer(&self) -> (u16, serde_json::Value) {
        match self {
            Fault::KmsThrottling => (
                400,
                json!({ "__type": "ThrottlingException", "message": "Rate exceeded (injected)" }),
            ),
            Fault::DynamoThroughputExceeded => (
                400,
                json!({
                    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                    "message": "The level of configured provisioned throughput for the table was exceeded (injected)"
                }),
            ),
            Fault::DynamoThrottling => (
                400,
                json!({
                    "__type": "com.amazon.coral.availability#ThrottlingException",
                    "message": "Rate of requests exceeds the allowed throughput (injected)"
                }),
            ),
            Fault::Unavailable => (
                503,
                json!({ "__type": "ServiceUnavailableException", "message": "Service unavailable (injected)" }),
            ),
            Fault::EventsInternal => (
                500,
                json!({ "__type": "InternalException", "message": "Internal failure (injected)" }),
            ),
            Fault::EventsFailedEntry => (
                200,
                json!({
                    "FailedEntryCount": 1,
                    "Entries": [{ "ErrorCode": "InternalFailure", "ErrorMessage": "Internal failure (injected)" }]
                }),
            ),
            Fault::Drop => (0, json!(null)),
        }
    }
}

#[derive(Default)]
struct State {
    /// Operation -> faults still to answer, in order.
    rules: HashMap<String, Vec<Fault>>,
    /// Operation -> faults answered.
    injected: HashMap<String, usize>,
    /// Operation -> calls forwarded.
    forwarded: HashMap<String, usize>,
}

/// The running proxy; it stops when dropped (its task is aborted).
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The connection is closed instead of answered.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped (injected)")
    }
}

impl std::error::Error for Dropped {}

impl FaultProxy {
    /// A proxy on a free loopback port forwarding to `upstream` (`http://127.0.0.1:<port>`).
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let upstream: hyper::Uri = upstream.parse().expect("upstream URL");
        let client: Client<_, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build(hyper_util::client::legacy::connect::HttpConnector::new());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (state, upstream, client) = (shared.clone(), upstream.clone(), client.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let (state, upstream, client) = (state.clone(), upstream.clone(), client.clone());
                        async move { pass(&state, &upstream, &client, request).await }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        FaultProxy { endpoint, state, task }
    }

    /// Answers the next `times` calls of `operation` (an `X-Amz-Target` value) with `fault`, after any
    /// faults already waiting for it.
    pub fn inject(&self, operation: &str, times: usize, fault: Fault) {
        let mut state = self.state.lock().expect("state");
        state
            .rules
            .entry(operation.to_string())
            .or_default()
            .extend(std::iter::repeat_n(fault, times));
    }

    /// Faults still waiting for `operation`.
    pub fn waiting(&self, operation: &str) -> usize {
        self.state
            .lock()
            .expect("state")
            .rules
            .get(operation)
            .map_or(0, Vec::len)
    }

    /// Faults answered so far for `operation`.
    pub fn injected(&self, operation: &str) -> usize {
        *self.state.lock().expect("state").injected.get(operation).unwrap_or(&0)
    }

    /// Calls of `operation` forwarded so far.
    pub fn forwarded(&self, operation: &str) -> usize {
        *self.state.lock().expect("state").forwarded.get(operation).unwrap_or(&0)
    }

    /// The SDK configuration `base` pointed at the proxy. A client built from an `SdkConfig` takes the
    /// environment's `AWS_ENDPOINT_URL` over the configuration's endpoint, so that reading is turned off.
    pub fn config(&self, base: &aws_config::SdkConfig) -> aws_config::SdkConfig {
        base.clone()
            .into_builder()
            .endpoint_url(&self.endpoint)
            .service_config(NoEnvironment)
            .build()
    }
}

/// Service settings from the environment: none (the proxy's endpoint is the one).
#[derive(Debug)]
struct NoEnvironment;

impl aws_types::service_config::LoadServiceConfig for NoEnvironment {
    fn load_config(&self, _key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        None
    }
}

type Forwarder = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn pass(
    state: &Mutex<State>,
    upstream: &hyper::Uri,
    client: &Forwarder,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Dropped> {
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let fault = {
        let mut state = state.lock().map_err(|_| Dropped)?;
        let fault = state
            .rules
            .get_mut(&operation)
            .and_then(|faults| (!faults.is_empty()).then(|| faults.remove(0)));
        match &fault {
            Some(_) => *state.injected.entry(operation.clone()).or_default() += 1,
            None => *state.forwarded.entry(operation.clone()).or_default() += 1,
        }
        fault
    };
    let (parts, body) = request.into_parts();
    // The request is read whole either way, as the service would before answering.
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    if let Some(fault) = fault {
        let (status, answer) = fault.answer();
        if fault == Fault::Drop {
            return Err(Dropped);
        }
        let content_type = if operation.starts_with("TrentService.") || operation.starts_with("AWSEvents.") {
            "application/x-amz-json-1.1"
        } else {
            "application/x-amz-json-1.0"
        };
        let mut response = hyper::Response::new(Full::new(Bytes::from(answer.to_string())));
        *response.status_mut() = hyper::StatusCode::from_u16(status).map_err(|_| Dropped)?;
        response
            .headers_mut()
            .insert("content-type", hyper::header::HeaderValue::from_static(content_type));
        if let Some(kind) = answer["__type"].as_str() {
            let short = kind.rsplit('#').next().unwrap_or(kind);
            if let Ok(value) = hyper::header::HeaderValue::from_str(short) {
                response.headers_mut().insert("x-amzn-errortype", value);
            }
        }
        return Ok(response);
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = format!(
        "{}://{}{}",
        upstream.scheme_str().unwrap_or("http"),
        upstream.authority().map_or("127.0.0.1", |a| a.as_str()),
        path
    );
    let mut forward = hyper::Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        forward = forward.header(name, value);
    }
    let forward = forward.body(Full::new(body)).map_err(|_| Dropped)?;
    let answered = client.request(forward).await.map_err(|_| Dropped)?;
    let (parts, body) = answered.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    Ok(hyper::Response::from_parts(parts, Full::new(body)))
}
