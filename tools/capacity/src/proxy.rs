//! A counting proxy on loopback in front of the AWS emulator: records each call by service and operation with the DynamoDB capacity it used, and answers calls a fault plan names with throttling or unavailability instead.

use crate::ledger::{Call, Ledger};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

/// What a fault rule answers instead of the emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The service's throttling error (`ThrottlingException`, S3's `SlowDown`).
    Throttle,
    /// HTTP 503: the service is unavailable.
    Unavailable,
}

/// Answer the next `times` calls of `service` (the SigV4 scope name: `kms`,
/// `dynamodb`, `s3`, `events`) and `operation` (`Sign`, `TransactWriteItems`) with `fault`.
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub service: String,
    pub operation: String,
    pub fault: Fault,
    pub times: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on loopback: {0}")]
    Listen(#[from] std::io::Error),
}

struct State {
    upstream: String,
    ledger: Arc<Ledger>,
    faults: Mutex<Vec<FaultRule>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// The running proxy; stopped when dropped.
pub struct Proxy {
    pub url: String,
    pub ledger: Arc<Ledger>,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` (the emulator's URL).
    pub async fn start(upstream: &str) -> Result<Proxy, ProxyError> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let ledger = Arc::new(Ledger::default());
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_string(),
            ledger: ledger.clone(),
            faults: Mutex::new(Vec::new()),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let serving = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&state, request).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await
                    {
                        tracing::debug!(error = %e, "proxy connection ended");
                    }
                });
            }
        });
        Ok(Proxy {
            url,
            ledger,
            state,
            task,
        })
    }

    /// Drops every fault rule not yet used up.
    pub fn clear_faults(&self) {
        if let Ok(mut faults) = self.state.faults.lock() {
            faults.clear();
        }
    }

    /// Adds a fault rule; rules are used in the order they were added.
    pub fn inject(&self, rule: FaultRule) {
        if let Ok(mut faults) = self.state.faults.lock() {
            faults.push(rule);
        }
    }
}

type Answer = hyper::Response<Full<Bytes>>;

async fn handle(state: &State, request: hyper::Request<Incoming>) -> Answer {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let (service, operation) = classify(&parts, &body);
    if let Some(fault) = take_fault(state, &service, &operation) {
        state.ledger.record(Call {
            service: service.clone(),
            operation,
            status: fault_status(fault),
            injected: Some(format!("{fault:?}")),
            entries: 0,
            dynamo: None,
        });
        return fault_answer(&service, fault);
    }
    // DynamoDB: ask for the capacity each call consumed, per table and index.
    let mut request_json: Option<Value> = None;
    let mut forwarded = body.clone();
    if service == "dynamodb" {
        if let Ok(mut json) = serde_json::from_slice::<Value>(&body) {
            if operation == "CreateTable" {
                state.ledger.learn_schema(&json);
            }
            if reports_capacity(&operation) && json.get("ReturnConsumedCapacity").is_none() {
                json["ReturnConsumedCapacity"] = Value::from("INDEXES");
                forwarded = Bytes::from(json.to_string());
            }
            request_json = Some(json);
        }
    }
    // The items a write replaces, read first (and not counted): their old index entries are written too.
    let mut prior = std::collections::HashMap::new();
    if let Some(json) = &request_json {
        for (table, key) in state.ledger.items_written(&operation, json) {
            if let Some(item) = read_item(state, &parts, &table, &key).await {
                prior.insert(crate::ledger::prior_key(&table, &key), item);
            }
        }
    }
    let entries = if service == "events" && operation == "PutEvents" {
        serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|j| j["Entries"].as_array().map(Vec::len))
            .unwrap_or(0)
    } else {
        0
    };
    let uri = format!(
        "{}{}",
        state.upstream,
        parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut outgoing = hyper::Request::builder().method(parts.method.clone()).uri(uri);
    for (name, value) in &parts.headers {
        if name != hyper::header::CONTENT_LENGTH {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.body(Full::new(forwarded)) {
        Ok(outgoing) => state.client.request(outgoing).await.ok(),
        Err(_) => None,
    };
    let Some(answer) = answer else {
        state.ledger.record(Call {
            service,
            operation,
            status: 502,
            injected: None,
            entries,
            dynamo: None,
        });
        return plain(502, "the emulator did not answer");
    };
    let (answer_parts, answer_body) = answer.into_parts();
    let answer_body = answer_body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let dynamo = match (&request_json, answer_parts.status.is_success()) {
        (Some(request), true) => serde_json::from_slice::<Value>(&answer_body)
            .ok()
            .map(|response| state.ledger.dynamo_use(&operation, request, &response, &prior)),
        _ => None,
    };
    state.ledger.record(Call {
        service,
        operation,
        status: answer_parts.status.as_u16(),
        injected: None,
        entries,
        dynamo,
    });
    let mut back = hyper::Response::builder().status(answer_parts.status);
    for (name, value) in &answer_parts.headers {
        if name != hyper::header::CONTENT_LENGTH && name != hyper::header::TRANSFER_ENCODING {
            back = back.header(name, value);
        }
    }
    back.body(Full::new(answer_body)).unwrap_or_default()
}

/// An item as it is now, read from the emulator with the request's own credentials.
async fn read_item(state: &State, parts: &http::request::Parts, table: &str, key: &Value) -> Option<Value> {
    let body = serde_json::json!({ "TableName": table, "Key": key, "ConsistentRead": true }).to_string();
    let mut request = hyper::Request::post(format!("{}/", state.upstream))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "DynamoDB_20120810.GetItem");
    for name in ["authorization", "x-amz-date", "x-amz-security-token"] {
        if let Some(value) = parts.headers.get(name) {
            request = request.header(name, value);
        }
    }
    let response = state
        .client
        .request(request.body(Full::new(Bytes::from(body))).ok()?)
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let bytes = response.into_body().collect().await.ok()?.to_bytes();
    let answer: Value = serde_json::from_slice(&bytes).ok()?;
    answer.get("Item").cloned()
}

fn take_fault(state: &State, service: &str, operation: &str) -> Option<Fault> {
    let mut faults = state.faults.lock().ok()?;
    let at = faults
        .iter()
        .position(|r| r.times > 0 && r.service == service && r.operation == operation)?;
    faults[at].times -= 1;
    let fault = faults[at].fault;
    if faults[at].times == 0 {
        faults.remove(at);
    }
    Some(fault)
}

fn fault_status(fault: Fault) -> u16 {
    match fault {
        Fault::Throttle => 400,
        Fault::Unavailable => 503,
    }
}

/// The error the service itself sends: JSON for the JSON protocols, XML for S3.
fn fault_answer(service: &str, fault: Fault) -> Answer {
    let (status, code, message) = match (service, fault) {
        ("s3", Fault::Throttle) => (503, "SlowDown", "Please reduce your request rate."),
        ("dynamodb", Fault::Throttle) => (
            400,
            "ThrottlingException",
            "Throughput exceeds the current capacity for one or more global secondary indexes.",
        ),
        (_, Fault::Throttle) => (400, "ThrottlingException", "Rate exceeded"),
        (_, Fault::Unavailable) => (503, "ServiceUnavailable", "Service is unavailable (injected)"),
    };
    let builder = hyper::Response::builder().status(status);
    let answer = if service == "s3" {
        builder
            .header("content-type", "application/xml")
            .body(Full::new(Bytes::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        ))))
    } else {
        builder
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amzn-errortype", code)
            .body(Full::new(Bytes::from(
                serde_json::json!({ "__type": code, "message": message }).to_string(),
            )))
    };
    answer.unwrap_or_default()
}

fn plain(status: u16, text: &str) -> Answer {
    hyper::Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(text.to_string())))
        .unwrap_or_default()
}

fn reports_capacity(operation: &str) -> bool {
    matches!(
        operation,
        "GetItem"
            | "PutItem"
            | "UpdateItem"
            | "DeleteItem"
            | "Query"
            | "Scan"
            | "BatchGetItem"
            | "BatchWriteItem"
            | "TransactGetItems"
            | "TransactWriteItems"
    )
}

/// The service (from the SigV4 credential scope) and the operation (from the
/// JSON protocols' target, or S3's method and path) of a request.
pub fn classify(parts: &http::request::Parts, body: &[u8]) -> (String, String) {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let scope = header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split([',', ' ']).next())
        .and_then(|c| c.split('/').nth(3))
        .map(str::to_string);
    let multipart = header("content-type").is_some_and(|c| c.starts_with("multipart/form-data"));
    let service = scope.unwrap_or_else(|| if multipart { "s3".into() } else { "unknown".into() });
    if let Some(target) = header("x-amz-target") {
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        return (service, operation);
    }
    if service == "s3" {
        return (service, s3_operation(parts, multipart));
    }
    let action = std::str::from_utf8(body)
        .ok()
        .and_then(|b| b.split('&').find_map(|p| p.strip_prefix("Action=")))
        .unwrap_or("unknown")
        .to_string();
    (service, action)
}

fn s3_operation(parts: &http::request::Parts, multipart: bool) -> String {
    let path = parts.uri.path().trim_start_matches('/');
    let query = parts.uri.query().unwrap_or("");
    let has_key = path.split_once('/').is_some_and(|(_, key)| !key.is_empty());
    let method = parts.method.as_str();
    let operation = match (method, has_key) {
        ("PUT", true) if parts.headers.contains_key("x-amz-copy-source") => "CopyObject",
        ("PUT", true) => "PutObject",
        ("PUT", false) if query.is_empty() => "CreateBucket",
        ("PUT", false) => "PutBucketConfiguration",
        ("GET", true) => "GetObject",
        ("GET", false) if query.contains("list-type=2") => "ListObjectsV2",
        ("GET", false) => "ListObjects",
        ("HEAD", true) => "HeadObject",
        ("HEAD", false) => "HeadBucket",
        ("DELETE", true) => "DeleteObject",
        ("DELETE", false) => "DeleteBucket",
        ("POST", _) if query.contains("delete") => "DeleteObjects",
        ("POST", _) if multipart => "PostObject",
        ("POST", _) => "PostOther",
        _ => "Other",
    };
    operation.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).expect("request").into_parts().0
    }

    #[test]
    fn calls_are_named_by_service_and_operation() {
        let auth =
            "AWS4-HMAC-SHA256 Credential=test/20261204/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0";
        let sign = parts(
            "POST",
            "/",
            &[("authorization", auth), ("x-amz-target", "TrentService.Sign")],
        );
        assert_eq!(classify(&sign, b"{}"), ("kms".into(), "Sign".into()));
        let s3 = auth.replace("/kms/", "/s3/");
        let get = parts("GET", "/bucket/photos/a/b", &[("authorization", &s3)]);
        assert_eq!(classify(&get, b""), ("s3".into(), "GetObject".into()));
        let copy = parts(
            "PUT",
            "/bucket/portraits/a",
            &[("authorization", &s3), ("x-amz-copy-source", "bucket/photos/a")],
        );
        assert_eq!(classify(&copy, b""), ("s3".into(), "CopyObject".into()));
        let form = parts(
            "POST",
            "/bucket",
            &[("content-type", "multipart/form-data; boundary=x")],
        );
        assert_eq!(classify(&form, b""), ("s3".into(), "PostObject".into()));
    }
}
