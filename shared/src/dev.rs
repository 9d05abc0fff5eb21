//! Development identity for the local server: HS256 bearer tokens per role, and liveness sessions.
//!
//! In AWS, API Gateway's JWT authorizer verifies the authority's tokens and a
//! liveness service (Amazon Rekognition Face Liveness) runs the real-person
//! check. Locally, this module plays both parts with a secret that never
//! leaves the local server's process.

use crate::applications::ports::{LivenessCheck, LivenessError, LivenessOutcome};
use crate::kernel::time::Clock;
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Arc;

type HmacSha256 = Hmac<Sha256>;

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

/// The local server's secret, for tokens and liveness sessions.
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

    /// A liveness session id as the app would get it after a real-person
    /// check: who, pass or fail, confidence, when; signed.
    pub fn mint_liveness_session(&self, holder_id: &str, confidence: f32, now: i64) -> String {
        let body = serde_json::json!({ "sub": holder_id, "confidence": confidence, "iat": now });
        let payload = URL_SAFE_NO_PAD.encode(body.to_string());
        let tag = URL_SAFE_NO_PAD.encode(self.mac(format!("liveness.{payload}").as_bytes()));
        format!("dev-liveness.{payload}.{tag}")
    }
}

/// How long after the check a liveness session may be presented.
pub const LIVENESS_SESSION_SECONDS: i64 = 600;

/// The confidence at or above which a check passes (Rekognition's scale, 0..100).
pub const LIVENESS_THRESHOLD: f32 = 90.0;

/// The development adapter of the liveness port: accepts sessions the local server minted.
pub struct DevLiveness {
    pub keys: DevKeys,
    pub clock: Arc<dyn Clock>,
}

#[async_trait]
impl LivenessCheck for DevLiveness {
    async fn check(&self, session_id: &str, holder_id: &str) -> Result<LivenessOutcome, LivenessError> {
        let invalid = |m: &str| LivenessError::InvalidSession(m.to_string());
        let rest = session_id
            .strip_prefix("dev-liveness.")
            .ok_or_else(|| invalid("not a liveness session issued by this server"))?;
        let (payload, tag) = rest
            .split_once('.')
            .ok_or_else(|| invalid("malformed liveness session"))?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| invalid("malformed liveness session"))?;
        if !self.keys.verify_mac(format!("liveness.{payload}").as_bytes(), &tag) {
            return Err(invalid("the liveness session's signature does not verify"));
        }
        let body: serde_json::Value = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or_else(|| invalid("malformed liveness session"))?;
        if body.get("sub").and_then(|s| s.as_str()) != Some(holder_id) {
            return Err(invalid("the liveness session belongs to someone else"));
        }
        let iat = body.get("iat").and_then(|i| i.as_i64()).unwrap_or(0);
        if self.clock.now().timestamp() - iat > LIVENESS_SESSION_SECONDS {
            return Err(invalid("the liveness session has expired; run the check again"));
        }
        let confidence = body.get("confidence").and_then(|c| c.as_f64()).unwrap_or(0.0) as f32;
        Ok(LivenessOutcome {
            passed: confidence >= LIVENESS_THRESHOLD,
            confidence,
            reference: format!("dev-{iat}"),
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
