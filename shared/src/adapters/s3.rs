//! The S3 adapter of the photo store (presigned POST-policy uploads, presigned views, clean copies and portraits
//! stored) and of the register files of large imports (uploads, ranged reads, reports).
//!
//! The AWS SDK presigns single requests but not browser-style POST uploads,
//! and only a POST policy can bound an upload's size (`content-length-range`);
//! so the policy is signed here with SigV4, from the function's own credentials.

use super::on_first_use::OnFirstUse;
use crate::applications::ports::{PhotoStore, PhotoStoreError, UploadForm, UploadGrant};
use crate::register::ports::{FileStoreError, RegisterFiles, StoredFile};
use async_trait::async_trait;
use aws_sdk_s3::config::ProvideCredentials;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::Client;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::collections::BTreeMap;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct S3Photos {
    client: OnFirstUse<Client>,
    config: aws_config::SdkConfig,
    bucket: String,
}

fn unavailable<E: std::error::Error + 'static>(operation: &str, e: E) -> PhotoStoreError {
    PhotoStoreError::Unavailable(format!("{operation}: {}", DisplayErrorContext(e)))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The SigV4 signature of a POST policy (already base64-encoded).
pub fn sign_policy(secret: &str, date: &str, region: &str, policy_base64: &str) -> String {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, b"s3");
    let k_signing = hmac(&k_service, b"aws4_request");
    hex::encode(hmac(&k_signing, policy_base64.as_bytes()))
}

impl S3Photos {
    /// The SDK client, built by the first request that needs it.
    fn client(&self) -> &Client {
        self.client.get()
    }

    /// A photo store on `bucket`. With a custom endpoint (an emulator) the
    /// bucket is addressed by path, as emulators expect.
    pub fn new(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        let sdk = config.clone();
        S3Photos {
            client: OnFirstUse::new(move || {
                let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
                    .force_path_style(sdk.endpoint_url().is_some())
                    .build();
                Client::from_conf(s3_config)
            }),
            config: config.clone(),
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn region(&self) -> String {
        self.config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into())
    }

    /// Where the form is posted.
    fn form_url(&self) -> String {
        match self.config.endpoint_url() {
            Some(endpoint) => format!("{}/{}", endpoint.trim_end_matches('/'), self.bucket),
            None => format!("https://{}.s3.{}.amazonaws.com/", self.bucket, self.region()),
        }
    }

    /// Creates the bucket (tests and the local server against an emulator).
    pub async fn create_bucket(&self) -> Result<(), PhotoStoreError> {
        match self.client().create_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.code(), Some("BucketAlreadyOwnedByYou") | Some("BucketAlreadyExists")) => Ok(()),
            Err(e) => Err(unavailable("CreateBucket", e)),
        }
    }

    /// A form signed at `signed_at` (exposed so tests can make expired or tampered forms).
    pub async fn upload_form_at(
        &self,
        grant: &UploadGrant,
        signed_at: DateTime<Utc>,
    ) -> Result<UploadForm, PhotoStoreError> {
        self.post_form(
            &grant.key,
            grant.content_type.mime(),
            (grant.min_bytes as u64, grant.max_bytes as u64),
            grant.expires_at,
            signed_at,
        )
        .await
        .map_err(PhotoStoreError::Unavailable)
    }

    /// A POST form for exactly `key`, of `content_type`, between the two sizes (bytes), valid until `expires_at`.
    async fn post_form(
        &self,
        key: &str,
        content_type: &str,
        (min_bytes, max_bytes): (u64, u64),
        expires_at: DateTime<Utc>,
        signed_at: DateTime<Utc>,
    ) -> Result<UploadForm, String> {
        let provider = self
            .config
            .credentials_provider()
            .ok_or_else(|| "no AWS credentials to sign uploads with".to_string())?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| format!("credentials: {}", DisplayErrorContext(e)))?;
        let region = self.region();
        let date = signed_at.format("%Y%m%d").to_string();
        let amz_date = signed_at.format("%Y%m%dT%H%M%SZ").to_string();
        let credential = format!("{}/{date}/{region}/s3/aws4_request", credentials.access_key_id());
        let mut fields = BTreeMap::new();
        fields.insert("key".to_string(), key.to_string());
        fields.insert("Content-Type".to_string(), content_type.to_string());
        fields.insert("x-amz-algorithm".to_string(), "AWS4-HMAC-SHA256".to_string());
        fields.insert("x-amz-credential".to_string(), credential.clone());
        fields.insert("x-amz-date".to_string(), amz_date.clone());
        let mut conditions = vec![
            json!({ "bucket": self.bucket }),
            json!({ "key": key }),
            json!({ "Content-Type": content_type }),
            json!(["content-length-range", min_bytes, max_bytes]),
            json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }),
            json!({ "x-amz-credential": credential }),
            json!({ "x-amz-date": amz_date }),
        ];
        if let Some(token) = credentials.session_token() {
            conditions.push(json!({ "x-amz-security-token": token }));
            fields.insert("x-amz-security-token".to_string(), token.to_string());
        }
        let policy = json!({
            "expiration": expires_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "conditions": conditions,
        });
        let policy_base64 = STANDARD.encode(policy.to_string());
        let signature = sign_policy(credentials.secret_access_key(), &date, &region, &policy_base64);
        fields.insert("Policy".to_string(), policy_base64);
        fields.insert("X-Amz-Signature".to_string(), signature);
        Ok(UploadForm {
            method: "POST".into(),
            url: self.form_url(),
            fields,
            headers: BTreeMap::new(),
        })
    }
}

fn file_unavailable<E: std::error::Error + 'static>(operation: &str, e: E) -> FileStoreError {
    FileStoreError::Unavailable(format!("{operation}: {}", DisplayErrorContext(e)))
}

/// Register files for large imports share the private photo bucket, under `imports/`.
#[async_trait]
impl RegisterFiles for S3Photos {
    async fn file_upload_form(
        &self,
        key: &str,
        max_bytes: u64,
        expires_at: DateTime<Utc>,
    ) -> Result<UploadForm, FileStoreError> {
        self.post_form(key, "application/x-ndjson", (1, max_bytes), expires_at, Utc::now())
            .await
            .map_err(FileStoreError::Unavailable)
    }

    async fn stored_file(&self, key: &str) -> Result<Option<StoredFile>, FileStoreError> {
        match self.client().head_object().bucket(&self.bucket).key(key).send().await {
            Ok(head) => Ok(Some(StoredFile {
                size: u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0),
                tag: head.e_tag().unwrap_or_default().to_string(),
            })),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            // S3 answers a missing key with 403 to a role without s3:ListBucket, which the functions
            // deliberately lack (they may not list the bucket's photos): not uploaded yet, as with 404.
            Err(e)
                if e.raw_response()
                    .is_some_and(|r| matches!(r.status().as_u16(), 403 | 404)) =>
            {
                Ok(None)
            }
            Err(e) => Err(file_unavailable("HeadObject", e)),
        }
    }

    async fn read_file_range(&self, key: &str, tag: &str, offset: u64, length: u64) -> Result<Vec<u8>, FileStoreError> {
        if length == 0 {
            return Ok(Vec::new());
        }
        // If-Match: a file replaced since the job started is refused by S3 (412), never read half old, half new.
        let object = match self
            .client()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .if_match(tag)
            .range(format!("bytes={offset}-{}", offset + length - 1))
            .send()
            .await
        {
            Ok(object) => object,
            Err(e) if matches!(e.code(), Some("PreconditionFailed")) => {
                return Err(FileStoreError::Replaced(key.into()))
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(FileStoreError::NotFound(key.into()))
            }
            Err(e) => return Err(file_unavailable("GetObject", e)),
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| FileStoreError::Unavailable(format!("GetObject body: {e}")))?
            .into_bytes();
        Ok(bytes.to_vec())
    }

    async fn put_report(&self, key: &str, json: &[u8]) -> Result<(), FileStoreError> {
        self.client()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(aws_sdk_s3::primitives::ByteStream::from(json.to_vec()))
            .send()
            .await
            .map_err(|e| file_unavailable("PutObject", e))?;
        Ok(())
    }
}

#[async_trait]
impl PhotoStore for S3Photos {
    async fn upload_form(&self, grant: &UploadGrant) -> Result<UploadForm, PhotoStoreError> {
        self.upload_form_at(grant, Utc::now()).await
    }

    async fn read(&self, key: &str, max_bytes: usize) -> Result<Vec<u8>, PhotoStoreError> {
        let object = match self.client().get_object().bucket(&self.bucket).key(key).send().await {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(PhotoStoreError::NotFound(key.into()))
            }
            Err(e) => return Err(unavailable("GetObject", e)),
        };
        let too_large = || PhotoStoreError::TooLarge {
            key: key.into(),
            limit: max_bytes,
        };
        if object
            .content_length()
            .is_some_and(|n| n < 0 || n as u64 > max_bytes as u64)
        {
            return Err(too_large());
        }
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| PhotoStoreError::Unavailable(format!("GetObject body: {e}")))?
            .into_bytes();
        if bytes.len() > max_bytes {
            return Err(too_large());
        }
        Ok(bytes.to_vec())
    }

    async fn view_link(&self, key: &str, expires_at: DateTime<Utc>) -> Result<String, PhotoStoreError> {
        let seconds = (expires_at - Utc::now()).num_seconds().clamp(1, 7 * 24 * 3600) as u64;
        let presigning = PresigningConfig::expires_in(std::time::Duration::from_secs(seconds))
            .map_err(|e| PhotoStoreError::Unavailable(format!("presigning: {e}")))?;
        let request = self
            .client()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|e| unavailable("presign GetObject", e))?;
        Ok(request.uri().to_string())
    }

    async fn put_checked(&self, key: &str, jpeg: &[u8]) -> Result<(), PhotoStoreError> {
        // A conditional write: S3 refuses to overwrite (412) rather than replacing a clean copy.
        match self
            .client()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("image/jpeg")
            .if_none_match("*")
            .body(aws_sdk_s3::primitives::ByteStream::from(jpeg.to_vec()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.code(), Some("PreconditionFailed")) => Ok(()),
            Err(e) => Err(unavailable("PutObject", e)),
        }
    }

    async fn put_portrait(&self, key: &str, jpeg: &[u8]) -> Result<(), PhotoStoreError> {
        self.client()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("image/jpeg")
            .body(aws_sdk_s3::primitives::ByteStream::from(jpeg.to_vec()))
            .send()
            .await
            .map_err(|e| unavailable("PutObject", e))?;
        Ok(())
    }
}
