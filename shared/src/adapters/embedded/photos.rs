//! The in-process photo store: the local server's stand-in for S3, with signed upload and view links, and the
//! register files of large imports.

use crate::applications::photo::ImageType;
use crate::applications::ports::{PhotoStore, PhotoStoreError, UploadForm, UploadGrant};
use crate::dev::DevKeys;
use crate::register::ports::{FileStoreError, RegisterFiles, StoredFile};
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// What an upload link allows, signed into the link itself (like an S3 POST policy).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UploadPolicy {
    key: String,
    content_type: ImageType,
    min: usize,
    max: usize,
    exp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadRefusal {
    #[error("the upload link is malformed or its signature does not verify")]
    Forged,
    #[error("the upload link has expired")]
    Expired,
    #[error("the upload must be sent as {0}")]
    WrongContentType(&'static str),
    #[error("the upload must be between {min} and {max} bytes; it was {size}")]
    Size { min: usize, max: usize, size: usize },
}

/// key -> (tag, bytes): the tag is the bytes' SHA-256, so a replaced file has another.
type Files = HashMap<String, (String, Vec<u8>)>;

/// What a register file's upload link allows.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FilePolicy {
    key: String,
    max: u64,
    exp: i64,
}

/// Photos (and large imports' register files and reports) kept in memory; links point at the local server
/// (`base_url`).
pub struct EmbeddedPhotos {
    keys: DevKeys,
    base_url: String,
    objects: Mutex<HashMap<String, (ImageType, Vec<u8>)>>,
    files: Mutex<Files>,
}

impl EmbeddedPhotos {
    pub fn new(keys: DevKeys, base_url: impl Into<String>) -> Self {
        EmbeddedPhotos {
            keys,
            base_url: base_url.into(),
            objects: Mutex::new(HashMap::new()),
            files: Mutex::new(HashMap::new()),
        }
    }

    fn sign<T: Serialize>(&self, purpose: &str, value: &T) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default());
        let tag = URL_SAFE_NO_PAD.encode(self.keys.mac(format!("{purpose}.{payload}").as_bytes()));
        format!("{payload}.{tag}")
    }

    fn open<T: for<'de> Deserialize<'de>>(&self, purpose: &str, token: &str) -> Option<T> {
        let (payload, tag) = token.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        if !self.keys.verify_mac(format!("{purpose}.{payload}").as_bytes(), &tag) {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }

    /// Accepts a `PUT` to an upload link, enforcing what the link allows;
    /// returns the stored object's key.
    pub fn accept_upload(
        &self,
        token: &str,
        content_type: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<String, UploadRefusal> {
        let policy: UploadPolicy = self.open("upload", token).ok_or(UploadRefusal::Forged)?;
        if now.timestamp() > policy.exp {
            return Err(UploadRefusal::Expired);
        }
        if content_type.map(|c| c.trim().to_ascii_lowercase()) != Some(policy.content_type.mime().to_string()) {
            return Err(UploadRefusal::WrongContentType(policy.content_type.mime()));
        }
        if body.len() < policy.min || body.len() > policy.max {
            return Err(UploadRefusal::Size {
                min: policy.min,
                max: policy.max,
                size: body.len(),
            });
        }
        if let Ok(mut objects) = self.objects.lock() {
            objects.insert(policy.key.clone(), (policy.content_type, body.to_vec()));
        }
        Ok(policy.key)
    }

    /// Accepts a `PUT` to a register file's upload link (`/_dev/files/<token>`); returns the stored file's key.
    pub fn accept_file_upload(&self, token: &str, body: &[u8], now: DateTime<Utc>) -> Result<String, UploadRefusal> {
        let policy: FilePolicy = self.open("file", token).ok_or(UploadRefusal::Forged)?;
        if now.timestamp() > policy.exp {
            return Err(UploadRefusal::Expired);
        }
        if body.is_empty() || body.len() as u64 > policy.max {
            return Err(UploadRefusal::Size {
                min: 1,
                max: usize::try_from(policy.max).unwrap_or(usize::MAX),
                size: body.len(),
            });
        }
        self.store_file(&policy.key, body.to_vec());
        Ok(policy.key)
    }

    /// Stores (or replaces) a file as an upload would.
    pub fn store_file(&self, key: &str, bytes: Vec<u8>) {
        use sha2::Digest;
        let tag = hex::encode(sha2::Sha256::digest(&bytes));
        if let Ok(mut files) = self.files.lock() {
            files.insert(key.to_string(), (tag, bytes));
        }
    }

    /// A stored file or report, as the administrator would download it.
    pub fn file(&self, key: &str) -> Option<Vec<u8>> {
        self.files.lock().ok()?.get(key).map(|(_, bytes)| bytes.clone())
    }

    /// The keys of stored files under `prefix`, in order.
    pub fn file_keys(&self, prefix: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .files
            .lock()
            .map(|files| files.keys().filter(|k| k.starts_with(prefix)).cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }

    fn files(&self) -> Result<std::sync::MutexGuard<'_, Files>, FileStoreError> {
        self.files
            .lock()
            .map_err(|_| FileStoreError::Unavailable("embedded file store poisoned".into()))
    }

    /// The object behind a view link, if the link is genuine and current.
    pub fn view(&self, token: &str, now: DateTime<Utc>) -> Option<(ImageType, Vec<u8>)> {
        let (key, exp): (String, i64) = self.open("view", token)?;
        if now.timestamp() > exp {
            return None;
        }
        self.objects.lock().ok()?.get(&key).cloned()
    }
}

#[async_trait]
impl PhotoStore for EmbeddedPhotos {
    async fn upload_form(&self, grant: &UploadGrant) -> Result<UploadForm, PhotoStoreError> {
        let token = self.sign(
            "upload",
            &UploadPolicy {
                key: grant.key.clone(),
                content_type: grant.content_type,
                min: grant.min_bytes,
                max: grant.max_bytes,
                exp: grant.expires_at.timestamp(),
            },
        );
        let mut headers = BTreeMap::new();
        headers.insert("Content-Type".to_string(), grant.content_type.mime().to_string());
        Ok(UploadForm {
            method: "PUT".into(),
            url: format!("{}/_dev/uploads/{token}", self.base_url),
            fields: BTreeMap::new(),
            headers,
        })
    }

    async fn read(&self, key: &str, max_bytes: usize) -> Result<Vec<u8>, PhotoStoreError> {
        let objects = self
            .objects
            .lock()
            .map_err(|_| PhotoStoreError::Unavailable("embedded photo store poisoned".into()))?;
        let (_, bytes) = objects.get(key).ok_or_else(|| PhotoStoreError::NotFound(key.into()))?;
        if bytes.len() > max_bytes {
            return Err(PhotoStoreError::TooLarge {
                key: key.into(),
                limit: max_bytes,
            });
        }
        Ok(bytes.clone())
    }

    async fn view_link(&self, key: &str, expires_at: DateTime<Utc>) -> Result<String, PhotoStoreError> {
        let token = self.sign("view", &(key, expires_at.timestamp()));
        Ok(format!("{}/_dev/photos/{token}", self.base_url))
    }

    async fn put_checked(&self, key: &str, jpeg: &[u8]) -> Result<(), PhotoStoreError> {
        let mut objects = self
            .objects
            .lock()
            .map_err(|_| PhotoStoreError::Unavailable("embedded photo store poisoned".into()))?;
        objects
            .entry(key.to_string())
            .or_insert_with(|| (ImageType::Jpeg, jpeg.to_vec()));
        Ok(())
    }

    async fn put_portrait(&self, key: &str, jpeg: &[u8]) -> Result<(), PhotoStoreError> {
        let mut objects = self
            .objects
            .lock()
            .map_err(|_| PhotoStoreError::Unavailable("embedded photo store poisoned".into()))?;
        objects.insert(key.to_string(), (ImageType::Jpeg, jpeg.to_vec()));
        Ok(())
    }
}

#[async_trait]
impl RegisterFiles for EmbeddedPhotos {
    async fn file_upload_form(
        &self,
        key: &str,
        max_bytes: u64,
        expires_at: DateTime<Utc>,
    ) -> Result<UploadForm, FileStoreError> {
        let token = self.sign(
            "file",
            &FilePolicy {
                key: key.into(),
                max: max_bytes,
                exp: expires_at.timestamp(),
            },
        );
        Ok(UploadForm {
            method: "PUT".into(),
            url: format!("{}/_dev/files/{token}", self.base_url),
            fields: BTreeMap::new(),
            headers: BTreeMap::from([("Content-Type".to_string(), "application/x-ndjson".to_string())]),
        })
    }

    async fn stored_file(&self, key: &str) -> Result<Option<StoredFile>, FileStoreError> {
        Ok(self.files()?.get(key).map(|(tag, bytes)| StoredFile {
            size: bytes.len() as u64,
            tag: tag.clone(),
        }))
    }

    async fn read_file_range(&self, key: &str, tag: &str, offset: u64, length: u64) -> Result<Vec<u8>, FileStoreError> {
        let files = self.files()?;
        let (stored_tag, bytes) = files.get(key).ok_or_else(|| FileStoreError::NotFound(key.into()))?;
        if stored_tag != tag {
            return Err(FileStoreError::Replaced(key.into()));
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
        let end = usize::try_from(offset.saturating_add(length))
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        Ok(bytes[start..end].to_vec())
    }

    async fn put_report(&self, key: &str, json: &[u8]) -> Result<(), FileStoreError> {
        self.store_file(key, json.to_vec());
        Ok(())
    }
}
