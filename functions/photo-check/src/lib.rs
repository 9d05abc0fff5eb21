//! The photo-check function: runs the automatic photo checks when an upload lands in S3 (R5, R15).

use aws_lambda_events::event::s3::S3Event;
use shared::service::photos::PhotoOutcome;
use shared::service::{PhotoChecking, ServiceError};

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A dependency failed; Lambda retries the event (then sends it to the dead-letter queue).
    #[error("photo {key} could not be checked: {source}")]
    Retry { key: String, source: ServiceError },
}

/// S3 percent-encodes object keys in events, with `+` for spaces.
pub fn decode_key(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&raw[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks every created object in the event. Outcomes that are the
/// applicant's (refused, ignored) are answers; only failures of the service
/// itself make the invocation fail, so that Lambda retries it.
pub async fn handle(photo_checking: &PhotoChecking, event: S3Event) -> Result<Vec<PhotoOutcome>, CheckError> {
    let mut outcomes = Vec::with_capacity(event.records.len());
    for record in event.records {
        let created = record
            .event_name
            .as_deref()
            .is_some_and(|n| n.starts_with("ObjectCreated"));
        let Some(raw) = record.s3.object.key.as_deref() else {
            continue;
        };
        let key = decode_key(raw);
        if !created {
            tracing::info!(key = %key, event = ?record.event_name, "not an ObjectCreated event; ignored");
            continue;
        }
        match photo_checking.photo_arrived(&key).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(source @ (ServiceError::Unavailable(_) | ServiceError::Conflict)) => {
                return Err(CheckError::Retry { key, source })
            }
            Err(other) => {
                tracing::warn!(key = %key, error = %other, "photo event not applicable");
                outcomes.push(PhotoOutcome::Ignored {
                    key,
                    reason: other.to_string(),
                });
            }
        }
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_decoded_as_s3_encodes_them() {
        assert_eq!(decode_key("photos/a-1/b2"), "photos/a-1/b2");
        assert_eq!(decode_key("photos/a+b/%E5%BC%A0"), "photos/a b/张");
        assert_eq!(decode_key("100%"), "100%");
    }
}
