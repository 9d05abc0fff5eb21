//! The load generator's HTTP client: JSON calls to the local API and form posts to the emulator's S3, each
//! timed and counted under the operation it belongs to.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{0} is not a valid request: {1}")]
    Request(String, String),
    #[error("{0} failed: {1}")]
    Transport(String, String),
}

/// Latencies and answers per operation, and the number of requests sent.
#[derive(Default)]
pub struct Recorder {
    requests: AtomicUsize,
    operations: Mutex<BTreeMap<&'static str, Operation>>,
}

#[derive(Debug, Default, Clone)]
pub struct Operation {
    pub latencies: Vec<Duration>,
    pub statuses: BTreeMap<u16, usize>,
}

impl Recorder {
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    fn record(&self, operation: &'static str, status: u16, took: Duration) {
        let mut operations = self.operations.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = operations.entry(operation).or_default();
        entry.latencies.push(took);
        *entry.statuses.entry(status).or_default() += 1;
    }

    pub fn operations(&self) -> BTreeMap<&'static str, Operation> {
        self.operations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// An answer: its status and its body as JSON (`Value::Null` when it is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// The local API at `base`, on loopback.
pub struct Api {
    client: Client<HttpConnector, Full<Bytes>>,
    pub base: String,
    pub recorder: Recorder,
}

impl Api {
    pub fn new(base: String) -> Api {
        Api {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base,
            recorder: Recorder::default(),
        }
    }

    /// A JSON call to the local API, timed under `operation`.
    pub async fn call(
        &self,
        operation: &'static str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, CallError> {
        let url = format!("{}{}", self.base, path);
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if let Some(token) = token {
            headers.push(("authorization".into(), format!("Bearer {token}")));
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        self.send(operation, method, &url, &headers, body).await
    }

    /// Any request, timed under `operation`.
    pub async fn send(
        &self,
        operation: &'static str,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<Answer, CallError> {
        let mut request = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| CallError::Request(operation.into(), e.to_string()))?;
        self.recorder.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| CallError::Transport(operation.into(), e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| CallError::Transport(operation.into(), e.to_string()))?
            .to_bytes();
        self.recorder.record(operation, status, started.elapsed());
        Ok(Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }
}

/// A `multipart/form-data` body: the policy's fields, then the file (as S3's POST policy wants it last).
pub fn multipart(fields: &serde_json::Map<String, Value>, file: &[u8], file_type: &str) -> (String, Bytes) {
    let boundary = format!("edlload{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{}\r\n",
                value.as_str().unwrap_or("")
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo\"\r\nContent-Type: {file_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), Bytes::from(body))
}
