//! New photos (R4, R5, R15): upload forms for the holder, and the automatic checks when an object lands.

use super::{PhotoChecking, ServiceError, Uploading};
use crate::applications::application::{Application, PendingUpload, PhotoSource, PhotoSubmission};
use crate::applications::photo::{self, CheckResult, ImageType};
use crate::applications::ports::{PhotoClaim, PhotoStoreError, UploadForm, UploadGrant};
use crate::kernel::access::Action;
use crate::kernel::caller::Actor;
use crate::kernel::caller::{Caller, Role};
use crate::kernel::time::local_offset;
use crate::kernel::versioned::retry_on_conflict;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How long an upload form may be used.
pub const UPLOAD_FORM_MINUTES: i64 = 5;

/// `POST /applications/{id}/photo-uploads`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadRequest {
    /// `camera` or `album`.
    pub source: PhotoSource,
    /// `image/jpeg` or `image/png`.
    pub content_type: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadOffer {
    pub upload_id: String,
    pub key: String,
    pub content_type: &'static str,
    pub min_bytes: usize,
    pub max_bytes: usize,
    pub expires_at: DateTime<Utc>,
    /// How to send the file: a form POST (fields first, the file last, as `file`) or a PUT.
    pub upload: UploadForm,
}

/// What became of an object that landed in the photo store.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum PhotoOutcome {
    /// Passed the automatic checks; now in the review queue.
    Queued { application: String, due_at: DateTime<Utc> },
    /// Refused by the automatic checks; the application waits for a new upload.
    Refused {
        application: String,
        failures: Vec<CheckResult>,
    },
    /// Not an upload any application is waiting for (a replaced or stale
    /// form, a repeated event, a key outside `photos/`): nothing changed.
    Ignored { key: String, reason: String },
}

/// The system actor the automatic checks act as.
fn checker() -> Actor {
    Actor {
        id: "photo-check".into(),
        role: Role::System,
    }
}

/// `photos/<application>/<upload>` into its parts.
pub fn parse_photo_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("photos/")?;
    let (application, upload) = rest.split_once('/')?;
    let plain = |s: &str| !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    (plain(application) && plain(upload)).then_some((application, upload))
}

impl Uploading {
    /// R4: a short-lived form to upload one photo for the holder's own application.
    pub async fn request_photo_upload(
        &self,
        caller: &Caller,
        id: &str,
        request: UploadRequest,
    ) -> Result<UploadOffer, ServiceError> {
        let mut application = self.own_application(caller, id, Action::UploadPhoto).await?;
        let content_type = ImageType::from_mime(&request.content_type).ok_or_else(|| ServiceError::Invalid {
            detail: format!(
                "contentType must be image/jpeg or image/png; {:?} is not accepted.",
                request.content_type
            ),
            errors: Vec::new(),
        })?;
        if request.source == PhotoSource::OnFile {
            return Err(ServiceError::invalid(
                "source says where a new photo comes from: camera or album.",
            ));
        }
        let store = &self.photos;
        let now = self.now();
        let upload_id = uuid::Uuid::new_v4().simple().to_string();
        let key = format!("photos/{}/{upload_id}", application.id);
        let expires_at = now + Duration::minutes(UPLOAD_FORM_MINUTES);
        application.request_upload(
            PendingUpload {
                upload_id: upload_id.clone(),
                key: key.clone(),
                content_type,
                source: request.source,
                requested_at: now,
                expires_at,
            },
            &caller.actor(Role::Holder),
        )?;
        // Record first: an object that lands is accepted only for the upload the
        // application waits for, so a form is never valid for an unrecorded upload.
        self.store_transition(application).await?;
        let grant = UploadGrant {
            key: key.clone(),
            content_type,
            min_bytes: self.photo_rules.min_bytes,
            max_bytes: self.photo_rules.max_bytes,
            expires_at,
        };
        let form = store.upload_form(&grant).await.map_err(photo_store_error)?;
        tracing::info!(application = %id, upload = %upload_id, "upload form issued");
        Ok(UploadOffer {
            upload_id,
            key,
            content_type: content_type.mime(),
            min_bytes: grant.min_bytes,
            max_bytes: grant.max_bytes,
            expires_at,
            upload: form,
        })
    }
}

impl PhotoChecking {
    /// R5: an object landed in the photo store (the S3 `ObjectCreated` event,
    /// or the local server's upload). Safe to call twice for the same object.
    pub async fn photo_arrived(&self, key: &str) -> Result<PhotoOutcome, ServiceError> {
        let ignored = |reason: &str| {
            tracing::info!(key, reason, "object ignored");
            Ok(PhotoOutcome::Ignored {
                key: key.to_string(),
                reason: reason.to_string(),
            })
        };
        let Some((application_id, upload_id)) = parse_photo_key(key) else {
            return ignored("not an upload key");
        };
        // A concurrent change (the holder asking for a new form) is retried once
        // on a fresh read rather than lost.
        let ignored = &ignored;
        retry_on_conflict(2, move || async move {
            let Some(mut application) = self.records.application(application_id).await? else {
                return ignored("no such application");
            };
            let Some(pending) = application
                .pending_upload
                .clone()
                .filter(|_| application.awaits_upload(upload_id))
            else {
                return ignored("the application is not waiting for this upload");
            };
            let outcome = self.check_photo(&application, &pending).await?;
            let result = match &outcome {
                Checked::Passed(submission) => application.submit_photo(submission.clone(), &checker()),
                Checked::Failed(failures) => {
                    application.refuse_photo(upload_id, failures.clone(), &checker(), self.now())
                }
            };
            result?;
            let stored = self.store_transition(application).await?;
            Ok(match outcome {
                Checked::Passed(submission) => {
                    tracing::info!(application = %stored.id, "photo queued for review");
                    PhotoOutcome::Queued {
                        application: stored.id,
                        due_at: submission.due_at,
                    }
                }
                Checked::Failed(failures) => {
                    tracing::info!(application = %stored.id, failures = failures.len(), "photo refused by the automatic checks");
                    PhotoOutcome::Refused {
                        application: stored.id,
                        failures,
                    }
                }
            })
        })
        .await
    }

    async fn check_photo(&self, application: &Application, pending: &PendingUpload) -> Result<Checked, ServiceError> {
        let rules = &self.photo_rules;
        let bytes = match self.photos.read(&pending.key, rules.max_bytes).await {
            Ok(bytes) => bytes,
            Err(PhotoStoreError::TooLarge { .. }) => {
                return Ok(Checked::Failed(vec![CheckResult {
                    code: "file-size".into(),
                    passed: false,
                    message: format!(
                        "The photo is larger than {} KiB; send a smaller file.",
                        rules.max_bytes / 1024
                    ),
                }]))
            }
            Err(PhotoStoreError::NotFound(_)) => {
                return Err(ServiceError::Unavailable(format!(
                    "the object {} is not there (yet)",
                    pending.key
                )))
            }
            Err(e) => return Err(photo_store_error(e)),
        };
        // From here on only the clean copy counts: the upload is not read again, so an object replaced
        // under the same key later (the form stays usable for its five minutes) changes nothing.
        let checked = match photo::check_and_clean(&bytes, pending.content_type, self.today(), rules) {
            Ok(checked) => checked,
            Err(inspection) => {
                return Ok(Checked::Failed(
                    inspection.checks.into_iter().filter(|c| !c.passed).collect(),
                ))
            }
        };
        let photo::CheckedPhoto { inspection, clean } = checked;
        let mut checks = inspection.checks;
        // R15: the same picture from another holder is refused. The clean copy's digest is that of the
        // pixels, so the same photo with other metadata or another container is recognised too.
        let claim = self
            .records
            .claim_photo(&clean.sha256, &application.holder_id, &application.id)
            .await?;
        if claim == PhotoClaim::HeldByAnotherHolder {
            return Ok(Checked::Failed(vec![CheckResult {
                code: "duplicate".into(),
                passed: false,
                message: "This exact photo was already submitted by someone else; take your own photo.".into(),
            }]));
        }
        checks.push(CheckResult {
            code: "duplicate".into(),
            passed: true,
            message: "The photo has not been used by anyone else.".into(),
        });
        let key = checked_photo_key(&application.id, &clean.sha256);
        self.photos
            .put_checked(&key, &clean.jpeg)
            .await
            .map_err(photo_store_error)?;
        let now = self.now();
        Ok(Checked::Passed(PhotoSubmission {
            upload_id: pending.upload_id.clone(),
            key,
            content_type: pending.content_type,
            source: pending.source,
            submitted_at: now,
            due_at: self.calendar.review_due(now, local_offset()),
            sha256: clean.sha256,
            width: clean.width,
            height: clean.height,
            checks,
            upload_sha256: Some(inspection.sha256),
        }))
    }
}

/// Where the clean copy of a checked photo is kept: named by its digest, written once by the checks.
pub fn checked_photo_key(application_id: &str, sha256: &str) -> String {
    format!("checked/{application_id}/{sha256}.jpg")
}

enum Checked {
    Passed(PhotoSubmission),
    Failed(Vec<CheckResult>),
}

pub(crate) fn photo_store_error(e: PhotoStoreError) -> ServiceError {
    ServiceError::Unavailable(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_keys() {
        assert_eq!(parse_photo_key("photos/app-1/abc"), Some(("app-1", "abc")));
        assert_eq!(parse_photo_key("photos/app-1/abc/x"), None);
        assert_eq!(parse_photo_key("portraits/app-1/abc"), None);
        assert_eq!(parse_photo_key("photos/../abc"), None);
        assert_eq!(parse_photo_key("photos//abc"), None);
    }

    #[test]
    fn an_outcome_names_its_fields_as_the_rest_of_the_api_does() {
        let due = DateTime::parse_from_rfc3339("2026-12-07T09:00:00Z").map(|d| d.with_timezone(&Utc));
        let queued = PhotoOutcome::Queued {
            application: "app-1".into(),
            due_at: due.expect("a time"),
        };
        assert_eq!(
            serde_json::to_value(&queued).expect("serialises"),
            serde_json::json!({"outcome": "queued", "application": "app-1", "dueAt": "2026-12-07T09:00:00Z"})
        );
    }
}
