//! Development identity for the local server: HS256 bearer tokens per role, and the liveness service.
//!
//! In AWS, API Gateway's JWT authorizer verifies the authority's tokens and a
//! liveness service (Amazon Rekognition Face Liveness) runs the real-person
//! check. Locally, this module plays both parts with a secret that never
//! leaves the local server's process.

use crate::applications::ports::{LivenessError, LivenessResult, LivenessService};
use crate::kernel::time::Clock;
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type HmacSha256 = Hmac<Sha256>;

/// A sentence certain to be in any binary built with this module and used by it (the local server prints it):
/// scripts/stack-test.sh looks for it in every Lambda function it builds, and finds it in `edl-local` only.
pub const DEVELOPMENT_CODE: &str = "EDL development code: never in a deployed function";

pub const DEV_ISSUER: &str = "edl-local";
pub const DEV_AUDIENCE: &str = "edl-app";

/// The claims of a development token, shaped like the authority's login tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevClaims {
    pub sub: String,
    /// Space-separated role names.
    pub roles: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

impl DevClaims {
    /// The claims as API Gateway's JWT authorizer hands them to a function: every value a string.
    pub fn as_authorizer_claims(&self) -> HashMap<String, String> {
        let mut claims = HashMap::new();
        claims.insert("sub".into(), self.sub.clone());
        claims.insert("roles".into(), self.roles.clone());
        claims.insert("iss".into(), self.iss.clone());
        claims.insert("aud".into(), self.aud.clone());
        claims.insert("iat".into(), self.iat.to_string());
        claims.insert("exp".into(), self.exp.to_string());
        if let Some(office) = &self.office {
            claims.insert("office".into(), office.clone());
        }
        if let Some(org) = &self.org {
            claims.insert("org".into(), org.clone());
        }
        claims
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DevTokenError {
    #[error("the token is not a compact JWS (header.payload.signature)")]
    Malformed,
    #[error("the token's algorithm must be HS256")]
    Algorithm,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is for another issuer or audience")]
    Audience,
}

/// The local server's secret, for tokens and photo upload forms.
#[derive(Clone)]
pub struct DevKeys {
    secret: Arc<Vec<u8>>,
}

impl DevKeys {
    /// A fresh secret for this process: tokens do not outlive the server.
    pub fn random() -> DevKeys {
        let mut secret = Vec::with_capacity(32);
        secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        DevKeys {
            secret: Arc::new(secret),
        }
    }

    pub fn from_secret(secret: &[u8]) -> DevKeys {
        DevKeys {
            secret: Arc::new(secret.to_vec()),
        }
    }

    pub(crate) fn mac(&self, data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        match HmacSha256::new_from_slice(&self.secret) {
            Ok(mut mac) => {
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }

    pub(crate) fn verify_mac(&self, data: &[u8], tag: &[u8]) -> bool {
        match HmacSha256::new_from_slice(&self.secret) {
            Ok(mut mac) => {
                mac.update(data);
                mac.verify_slice(tag).is_ok()
            }
            Err(_) => false,
        }
    }

    pub fn mint_token(&self, claims: &DevClaims) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(self.mac(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }

    pub fn verify_token(&self, token: &str, now: i64) -> Result<DevClaims, DevTokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(DevTokenError::Malformed);
        };
        let signing_input = format!("{header}.{payload}");
        let header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or(DevTokenError::Malformed)?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
            return Err(DevTokenError::Algorithm);
        }
        let tag = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| DevTokenError::Malformed)?;
        if !self.verify_mac(signing_input.as_bytes(), &tag) {
            return Err(DevTokenError::Signature);
        }
        let claims: DevClaims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or(DevTokenError::Malformed)?;
        if claims.exp <= now {
            return Err(DevTokenError::Expired);
        }
        if claims.iss != DEV_ISSUER || claims.aud != DEV_AUDIENCE {
            return Err(DevTokenError::Audience);
        }
        Ok(claims)
    }
}

/// How long after its creation a development liveness session's result may be presented (Rekognition's
/// sessions expire after three minutes; the local server is more patient with a person typing curl commands).
pub const LIVENESS_SESSION_SECONDS: i64 = 600;

/// The confidence at or above which a check passes (Rekognition's scale, 0..100).
pub const LIVENESS_THRESHOLD: f32 = 90.0;

/// A development session: the application it was created for, and the result the local server minted for it.
#[derive(Debug, Clone)]
struct DevSession {
    application_id: String,
    created_at: i64,
    finished: Option<(f32, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DevLivenessError {
    #[error("no liveness session {0} was created by this server")]
    UnknownSession(String),
    #[error("the liveness session's application has no photo on file to show: {0}")]
    NoPhotoOnFile(String),
}

/// The development adapter of the liveness service: sessions live in this process; the local server (or a
/// test) mints a session's result, its confidence and reference image, as the app's detector and Rekognition
/// would; faces are compared by their bytes (the same image, or not), not by looking at them.
pub struct DevLiveness {
    clock: Arc<dyn Clock>,
    sessions: Mutex<HashMap<String, DevSession>>,
}

impl DevLiveness {
    pub fn new(clock: Arc<dyn Clock>) -> DevLiveness {
        DevLiveness {
            clock,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, DevSession>> {
        // A panic elsewhere while the map was held leaves it usable: every change to it is one insert.
        self.sessions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The application a session was created for.
    pub fn application_of(&self, session_id: &str) -> Option<String> {
        self.sessions().get(session_id).map(|s| s.application_id.clone())
    }

    /// Ends a session as the app's detector would: a live person with this confidence, this reference image.
    pub fn finish(&self, session_id: &str, confidence: f32, reference_image: Vec<u8>) -> Result<(), DevLivenessError> {
        let mut sessions = self.sessions();
        let session = sessions
            .get_mut(session_id)
            .ok_or_else(|| DevLivenessError::UnknownSession(session_id.into()))?;
        session.finished = Some((confidence, reference_image));
        Ok(())
    }

    /// Ends a session with the application's photo on file as the reference image: the holder in front of
    /// the camera is the person on file (the quick start's case).
    pub async fn finish_as_holder(
        &self,
        applying: &crate::service::Applying,
        session_id: &str,
        confidence: f32,
    ) -> Result<(), DevLivenessError> {
        let application_id = self
            .application_of(session_id)
            .ok_or_else(|| DevLivenessError::UnknownSession(session_id.into()))?;
        let no_photo = |why: String| DevLivenessError::NoPhotoOnFile(why);
        let application = applying
            .records
            .application(&application_id)
            .await
            .map_err(|e| no_photo(e.to_string()))?
            .ok_or_else(|| no_photo(format!("application {application_id} is gone")))?;
        let key = application
            .portrait_key
            .ok_or_else(|| no_photo(format!("application {application_id} has none")))?;
        let photo = applying
            .photos
            .read(&key, applying.photo_rules.max_bytes)
            .await
            .map_err(|e| no_photo(e.to_string()))?;
        self.finish(session_id, confidence, photo)
    }
}

#[async_trait]
impl LivenessService for DevLiveness {
    async fn create_session(&self, application_id: &str) -> Result<String, LivenessError> {
        let session_id = uuid::Uuid::new_v4().to_string();
        let session = DevSession {
            application_id: application_id.into(),
            created_at: self.clock.now().timestamp(),
            finished: None,
        };
        self.sessions().insert(session_id.clone(), session);
        Ok(session_id)
    }

    async fn result(&self, session_id: &str) -> Result<LivenessResult, LivenessError> {
        let invalid = |m: &str| LivenessError::InvalidSession(m.to_string());
        let session = self
            .sessions()
            .get(session_id)
            .cloned()
            .ok_or_else(|| invalid("the liveness session is unknown"))?;
        if self.clock.now().timestamp() - session.created_at > LIVENESS_SESSION_SECONDS {
            return Err(invalid("the liveness session has expired; run the check again"));
        }
        let (confidence, reference) = session.finished.ok_or_else(|| invalid("the check has not finished"))?;
        let passed = confidence >= LIVENESS_THRESHOLD;
        Ok(LivenessResult {
            passed,
            confidence,
            reference_image: passed.then_some(reference),
        })
    }

    /// The same image (by SHA-256) matches fully, any other not at all: the local server has no face
    /// recognition, so a "different face" is simply different bytes.
    async fn compare_faces(&self, reference: &[u8], photo: &[u8], _threshold: f32) -> Result<f32, LivenessError> {
        Ok(if Sha256::digest(reference) == Sha256::digest(photo) {
            100.0
        } else {
            0.0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> DevClaims {
        DevClaims {
            sub: "11010519900307451X".into(),
            roles: "holder".into(),
            office: None,
            org: None,
            iss: DEV_ISSUER.into(),
            aud: DEV_AUDIENCE.into(),
            iat: 0,
            exp,
        }
    }

    #[test]
    fn tokens_verify_and_forgeries_do_not() {
        let keys = DevKeys::random();
        let token = keys.mint_token(&claims(100));
        assert_eq!(keys.verify_token(&token, 50), Ok(claims(100)));
        assert_eq!(keys.verify_token(&token, 100), Err(DevTokenError::Expired));
        assert_eq!(
            DevKeys::random().verify_token(&token, 50),
            Err(DevTokenError::Signature)
        );
        // Swap the payload for one claiming admin: the signature no longer matches.
        let mut forged = claims(100);
        forged.roles = "admin".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("json"));
        let parts: Vec<_> = token.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(keys.verify_token(&tampered, 50), Err(DevTokenError::Signature));
        let none_alg = format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#), parts[1]);
        assert_eq!(keys.verify_token(&none_alg, 50), Err(DevTokenError::Algorithm));
        assert_eq!(keys.verify_token("abc", 50), Err(DevTokenError::Malformed));
    }
}
