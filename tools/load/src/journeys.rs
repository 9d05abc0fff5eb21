//! The launch mix as holders live it: apply with the photo on file and pass the real-person check, or apply
//! with a new photo sent to S3 and reviewed; then show the licence and its code and have an officer verify it.

use crate::client::{multipart, Answer, Api, CallError};
use crate::images;
use serde_json::{json, Value};

/// How a holder applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    OnFile,
    NewPhoto,
}

/// One holder's journey through the service.
#[derive(Debug, Clone)]
pub struct Journey {
    /// The holder's identity (the token's subject) and the licence it holds.
    pub holder: String,
    pub licence: String,
    pub kind: Kind,
    /// Varies the new photo's bytes, so that no two holders submit the same file (which R15 would flag).
    pub seed: u32,
}

/// How a journey ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub journey: Journey,
    /// The application opened, if it was.
    pub application: Option<String>,
    /// The holder's token, to read the application afterwards.
    pub token: Option<String>,
    /// Where it stopped, when it did not reach a verified licence: the operation, its status, a short prefix
    /// of the answer.
    pub stopped: Option<String>,
}

pub struct Tokens {
    pub officer: String,
    pub reviewer: String,
}

/// Runs one journey; an unexpected answer ends it and is reported, never retried.
pub async fn run(api: &Api, tokens: &Tokens, journey: Journey) -> Outcome {
    let mut outcome = Outcome {
        journey: journey.clone(),
        application: None,
        token: None,
        stopped: None,
    };
    if let Err(stop) = steps(api, tokens, &journey, &mut outcome).await {
        outcome.stopped = Some(stop);
    }
    outcome
}

async fn steps(api: &Api, tokens: &Tokens, journey: &Journey, outcome: &mut Outcome) -> Result<(), String> {
    let token = expect(
        "dev token",
        api.call(
            "(development) token",
            "POST",
            "/_dev/tokens",
            None,
            Some(&json!({ "role": "holder", "sub": journey.holder })),
        )
        .await,
    )?;
    let token = text(&token.body, "token")?;
    outcome.token = Some(token.clone());
    match journey.kind {
        Kind::OnFile => {
            let opened = expect(
                "open on file",
                api.call(
                    "open an application (photo on file)",
                    "POST",
                    "/applications",
                    Some(&token),
                    Some(&json!({ "photoSource": "on_file" })),
                )
                .await,
            )?;
            let id = text(&opened.body, "id")?;
            outcome.application = Some(id.clone());
            let session = expect(
                "liveness session",
                api.call(
                    "liveness session",
                    "POST",
                    &format!("/applications/{id}/liveness-sessions"),
                    Some(&token),
                    None,
                )
                .await,
            )?;
            let session = text(&session.body, "sessionId")?;
            expect(
                "dev liveness",
                api.call(
                    "(development) liveness finished by the app",
                    "POST",
                    "/_dev/liveness",
                    None,
                    Some(&json!({ "sessionId": session })),
                )
                .await,
            )?;
            expect(
                "liveness",
                api.call(
                    "liveness confirmation (approval and issuance)",
                    "POST",
                    &format!("/applications/{id}/liveness"),
                    Some(&token),
                    Some(&json!({ "livenessSessionId": session })),
                )
                .await,
            )?;
        }
        Kind::NewPhoto => {
            let opened = expect(
                "open new photo",
                api.call(
                    "open an application (new photo)",
                    "POST",
                    "/applications",
                    Some(&token),
                    Some(&json!({ "photoSource": "camera" })),
                )
                .await,
            )?;
            let id = text(&opened.body, "id")?;
            outcome.application = Some(id.clone());
            let offer = expect(
                "upload form",
                api.call(
                    "upload form",
                    "POST",
                    &format!("/applications/{id}/photo-uploads"),
                    Some(&token),
                    Some(&json!({ "source": "camera", "contentType": "image/jpeg" })),
                )
                .await,
            )?;
            let key = text(&offer.body, "key")?;
            let url = text(&offer.body["upload"], "url")?;
            let fields = offer.body["upload"]["fields"]
                .as_object()
                .cloned()
                .ok_or("upload form: no fields")?;
            let photo = images::id_photo_jpeg_variant(360, 480, journey.seed);
            let (content_type, body) = multipart(&fields, &photo, "image/jpeg");
            expect(
                "upload",
                api.send(
                    "photo upload (form to S3)",
                    "POST",
                    &url,
                    &[("content-type".to_string(), content_type)],
                    body,
                )
                .await,
            )?;
            expect(
                "photo check",
                api.call(
                    "photo check (the S3 event)",
                    "POST",
                    "/_dev/photo-events",
                    None,
                    Some(&json!({ "key": key })),
                )
                .await,
            )?;
            expect(
                "review decision",
                api.call(
                    "review decision (approval and issuance)",
                    "POST",
                    &format!("/reviews/{id}/decision"),
                    Some(&tokens.reviewer),
                    Some(&json!({ "verdict": "approve" })),
                )
                .await,
            )?;
        }
    }
    expect(
        "show licence",
        api.call("show licence", "GET", "/licence", Some(&token), None).await,
    )?;
    let code = expect(
        "show code",
        api.call("show code", "GET", "/licence/code", Some(&token), None).await,
    )?;
    let code = text(&code.body, "code")?;
    let verified = expect(
        "verify",
        api.call(
            "verify a show code (officer)",
            "POST",
            "/verifications",
            Some(&tokens.officer),
            Some(&json!({ "code": code })),
        )
        .await,
    )?;
    if verified.body["valid"] != true {
        return Err(format!("verify: not valid: {}", prefix(&verified.body)));
    }
    Ok(())
}

fn expect(step: &str, answer: Result<Answer, CallError>) -> Result<Answer, String> {
    match answer {
        Ok(answer) if (200..300).contains(&answer.status) => Ok(answer),
        Ok(answer) => Err(format!("{step}: {} {}", answer.status, prefix(&answer.body))),
        Err(e) => Err(format!("{step}: {e}")),
    }
}

fn text(body: &Value, field: &str) -> Result<String, String> {
    body[field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("the answer has no {field}: {}", prefix(body)))
}

/// At most 120 characters of an answer, for a report.
pub fn prefix(body: &Value) -> String {
    body.to_string().chars().take(120).collect()
}
