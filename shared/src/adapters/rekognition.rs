//! The Amazon Rekognition adapter of the liveness service (R3): it creates a Face Liveness session for an
//! application (CreateFaceLivenessSession), judges its result against a confidence threshold
//! (GetFaceLivenessSessionResults), and compares the session's reference image with the photo on file
//! (CompareFaces).
//!
//! The backend records the session it created on the application and accepts no other (see
//! `service::applications`), so a session id presented by someone else, or for another application, never
//! reaches this adapter. There is no Rekognition in the AWS emulator: the tests speak Rekognition's JSON
//! protocol from a loopback stand-in with recorded answers (tests/liveness.rs), so what is exercised is this
//! adapter's requests and its reading of the answers, not the service's judgement of faces.

use super::on_first_use::OnFirstUse;
use crate::applications::ports::{LivenessError, LivenessResult, LivenessService};
use async_trait::async_trait;
use aws_sdk_rekognition::error::DisplayErrorContext;
use aws_sdk_rekognition::operation::get_face_liveness_session_results::GetFaceLivenessSessionResultsError;
use aws_sdk_rekognition::primitives::Blob;
use aws_sdk_rekognition::types::Image;

/// The confidence (Rekognition's scale, 0..=100) at or above which a check passes; the same
/// as the development adapter's `LIVENESS_THRESHOLD`, so local and AWS runs judge alike.
pub const DEFAULT_THRESHOLD: f32 = 90.0;

/// Creates, judges and compares Face Liveness sessions.
pub struct RekognitionLiveness {
    client: OnFirstUse<aws_sdk_rekognition::Client>,
    threshold: f32,
}

impl RekognitionLiveness {
    /// The SDK client, built by the first request that needs it.
    fn client(&self) -> &aws_sdk_rekognition::Client {
        self.client.get()
    }

    /// `threshold` is used as given (see [`DEFAULT_THRESHOLD`]): NaN or anything above 100
    /// passes nothing, 0 or below passes every finished session.
    pub fn new(config: &aws_config::SdkConfig, threshold: f32) -> Self {
        let config = config.clone();
        Self {
            client: OnFirstUse::new(move || aws_sdk_rekognition::Client::new(&config)),
            threshold,
        }
    }

    pub fn from_client(client: aws_sdk_rekognition::Client, threshold: f32) -> Self {
        Self {
            client: OnFirstUse::built(client),
            threshold,
        }
    }

    pub fn threshold(&self) -> f32 {
        self.threshold
    }
}

/// Whether `session_id` has the shape of a Rekognition session id (a UUID in its 36-character
/// hyphenated form). Checked before any call so that junk never reaches Rekognition, costs a
/// request, or ends up in its error messages and our logs.
pub fn is_session_id(session_id: &str) -> bool {
    session_id.len() == 36
        && session_id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// What a GetFaceLivenessSessionResults answer means for the application (without its reference image).
///
/// `status` is Rekognition's `LivenessSessionStatus` as a string (`SUCCEEDED`, `FAILED`,
/// `CREATED`, `IN_PROGRESS`, `EXPIRED`); `confidence` is its 0..=100 score.
pub fn outcome(
    session_id: &str,
    status: Option<&str>,
    confidence: Option<f32>,
    threshold: f32,
) -> Result<LivenessResult, LivenessError> {
    // A score outside the documented range is a malformed answer, not a low score.
    let usable = confidence.filter(|c| (0.0..=100.0).contains(c));
    match status {
        Some("SUCCEEDED") => match usable {
            Some(confidence) => Ok(LivenessResult {
                passed: confidence >= threshold,
                confidence,
                reference_image: None,
            }),
            // Neither pass (nothing to judge) nor fail (the holder would lose an attempt to a
            // fault of the service): the request fails as unavailable and can be retried.
            None => Err(LivenessError::Unavailable(format!(
                "Rekognition reported liveness session {session_id} SUCCEEDED without a usable confidence ({confidence:?})"
            ))),
        },
        // Recorded as a failed attempt, so the per-application limit on failed checks applies
        // to sessions that could not be completed as well as to low scores.
        Some("FAILED") => Ok(LivenessResult {
            passed: false,
            confidence: usable.unwrap_or(0.0),
            reference_image: None,
        }),
        Some("CREATED") | Some("IN_PROGRESS") => {
            Err(LivenessError::InvalidSession("the check has not finished".into()))
        }
        Some("EXPIRED") => Err(LivenessError::InvalidSession(
            "the liveness session has expired; run the check again".into(),
        )),
        // A status added to the API after this was written: judging it would be a guess.
        Some(other) => Err(LivenessError::Unavailable(format!(
            "Rekognition reported liveness session {session_id} with unknown status {other}"
        ))),
        None => Err(LivenessError::Unavailable(format!(
            "Rekognition reported liveness session {session_id} without a status"
        ))),
    }
}

/// The message for the holder when Rekognition refuses this session id; `None` when the
/// failure is not about the session (throttling, internal errors, unknown errors).
fn refusal(error: &GetFaceLivenessSessionResultsError) -> Option<&'static str> {
    if error.is_session_not_found_exception() {
        Some("the liveness session is unknown")
    } else if error.is_invalid_parameter_exception() {
        Some("the liveness session id is not valid")
    } else if error.is_access_denied_exception() {
        Some("the liveness session cannot be read")
    } else {
        None
    }
}

/// A failed GetFaceLivenessSessionResults call as the port's error, from the service's error
/// (if the call got that far) and the full error text. Messages of `InvalidSession` reach the
/// holder, so they carry no AWS detail; that goes to the log.
fn classify(session_id: &str, service: Option<&GetFaceLivenessSessionResultsError>, detail: String) -> LivenessError {
    match service.and_then(refusal) {
        Some(message) => {
            // Warned, not just returned: AccessDenied is also what a Lambda role without
            // rekognition:GetFaceLivenessSessionResults gets, and holders would only see 400s.
            tracing::warn!(session = %session_id, error = %detail, "Rekognition refused the liveness session");
            LivenessError::InvalidSession(message.to_string())
        }
        None => LivenessError::Unavailable(format!(
            "Rekognition GetFaceLivenessSessionResults for {session_id}: {detail}"
        )),
    }
}

#[async_trait]
impl LivenessService for RekognitionLiveness {
    async fn create_session(&self, application_id: &str) -> Result<String, LivenessError> {
        // No OutputConfig: the reference image comes back in the result's bytes, and nothing is kept in S3.
        // No ClientRequestToken: a retried start is a new session, and the application records the last one.
        let output = self.client().create_face_liveness_session().send().await.map_err(|e| {
            LivenessError::Unavailable(format!(
                "Rekognition CreateFaceLivenessSession for application {application_id}: {}",
                DisplayErrorContext(&e)
            ))
        })?;
        let session_id = output.session_id().to_string();
        if !is_session_id(&session_id) {
            return Err(LivenessError::Unavailable(
                "Rekognition CreateFaceLivenessSession answered without a session id".into(),
            ));
        }
        Ok(session_id)
    }

    async fn result(&self, session_id: &str) -> Result<LivenessResult, LivenessError> {
        if !is_session_id(session_id) {
            return Err(LivenessError::InvalidSession(
                "not a liveness session id (expected a UUID)".into(),
            ));
        }
        let output = self
            .client()
            .get_face_liveness_session_results()
            .session_id(session_id)
            .send()
            .await
            .map_err(|e| classify(session_id, e.as_service_error(), DisplayErrorContext(&e).to_string()))?;
        let mut result = outcome(
            session_id,
            Some(output.status().as_str()),
            output.confidence(),
            self.threshold,
        )?;
        if result.passed {
            // Without OutputConfig the reference image is returned as bytes; a pass without one cannot be
            // compared with the photo on file, and is not approved.
            let bytes = output
                .reference_image()
                .and_then(|image| image.bytes())
                .map(|bytes| bytes.as_ref().to_vec())
                .filter(|bytes| !bytes.is_empty())
                .ok_or_else(|| {
                    LivenessError::Unavailable(format!(
                        "Rekognition reported liveness session {session_id} SUCCEEDED without a reference image"
                    ))
                })?;
            result.reference_image = Some(bytes);
        }
        tracing::info!(session = %session_id, passed = result.passed, confidence = result.confidence, "liveness session judged");
        Ok(result)
    }

    async fn compare_faces(&self, reference: &[u8], photo: &[u8], threshold: f32) -> Result<f32, LivenessError> {
        let image = |bytes: &[u8]| Image::builder().bytes(Blob::new(bytes.to_vec())).build();
        let answer = self
            .client()
            .compare_faces()
            .source_image(image(reference))
            .target_image(image(photo))
            .similarity_threshold(threshold)
            .send()
            .await;
        match answer {
            // Only faces at or above the threshold are listed; the best of them (the reference image holds one
            // face, the largest is Rekognition's source face).
            Ok(output) => Ok(output
                .face_matches()
                .iter()
                .filter_map(|m| m.similarity())
                .fold(0.0, f32::max)),
            // Rekognition's answer when either image holds no face: nothing matches.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_invalid_parameter_exception()) => {
                tracing::warn!(error = %DisplayErrorContext(&e), "CompareFaces found no face to compare");
                Ok(0.0)
            }
            Err(e) => Err(LivenessError::Unavailable(format!(
                "Rekognition CompareFaces: {}",
                DisplayErrorContext(&e)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rekognition::types::error::{
        AccessDeniedException, InternalServerError, InvalidParameterException, SessionNotFoundException,
        ThrottlingException,
    };
    use aws_sdk_rekognition::types::LivenessSessionStatus;

    const SESSION: &str = "0f8e3c9a-1b2d-4e5f-8a7b-6c5d4e3f2a1b";

    fn judged(status: &str, confidence: Option<f32>) -> Result<LivenessResult, LivenessError> {
        outcome(SESSION, Some(status), confidence, DEFAULT_THRESHOLD)
    }

    fn invalid(result: Result<LivenessResult, LivenessError>) -> String {
        match result {
            Err(LivenessError::InvalidSession(m)) => m,
            other => panic!("expected InvalidSession, got {other:?}"),
        }
    }

    fn unavailable(result: Result<LivenessResult, LivenessError>) -> String {
        match result {
            Err(LivenessError::Unavailable(m)) => m,
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[test]
    fn succeeded_passes_at_and_above_the_threshold_only() {
        let at = judged("SUCCEEDED", Some(90.0)).expect("outcome");
        assert_eq!(
            at,
            LivenessResult {
                passed: true,
                confidence: 90.0,
                reference_image: None
            }
        );
        assert!(judged("SUCCEEDED", Some(100.0)).expect("outcome").passed);
        let below = judged("SUCCEEDED", Some(89.99)).expect("outcome");
        assert!(!below.passed);
        assert_eq!(below.confidence, 89.99);
        assert!(!judged("SUCCEEDED", Some(0.0)).expect("outcome").passed);
        // The threshold is the caller's, not the default's.
        assert!(
            outcome(SESSION, Some("SUCCEEDED"), Some(75.0), 75.0)
                .expect("outcome")
                .passed
        );
        assert!(
            !outcome(SESSION, Some("SUCCEEDED"), Some(100.0), f32::NAN)
                .expect("outcome")
                .passed
        );
    }

    #[test]
    fn succeeded_without_a_usable_confidence_is_unavailable() {
        unavailable(judged("SUCCEEDED", None));
        unavailable(judged("SUCCEEDED", Some(f32::NAN)));
        unavailable(judged("SUCCEEDED", Some(100.5)));
        unavailable(judged("SUCCEEDED", Some(-1.0)));
    }

    #[test]
    fn failed_is_a_failed_attempt() {
        assert_eq!(
            judged("FAILED", None).expect("outcome"),
            LivenessResult {
                passed: false,
                confidence: 0.0,
                reference_image: None
            }
        );
        // Even a high score does not turn a failed session into a pass.
        let scored = judged("FAILED", Some(99.0)).expect("outcome");
        assert!(!scored.passed);
        assert_eq!(scored.confidence, 99.0);
        assert_eq!(judged("FAILED", Some(f32::NAN)).expect("outcome").confidence, 0.0);
    }

    #[test]
    fn unfinished_and_expired_sessions_are_invalid() {
        assert_eq!(invalid(judged("CREATED", None)), "the check has not finished");
        assert_eq!(invalid(judged("IN_PROGRESS", Some(95.0))), "the check has not finished");
        assert!(invalid(judged("EXPIRED", None)).contains("expired"));
        assert!(invalid(judged("EXPIRED", Some(95.0))).contains("expired"));
    }

    #[test]
    fn unknown_or_missing_status_is_unavailable() {
        assert!(unavailable(judged("SOMETHING_NEW", Some(99.0))).contains("SOMETHING_NEW"));
        unavailable(judged("succeeded", Some(99.0)));
        unavailable(outcome(SESSION, None, Some(99.0), DEFAULT_THRESHOLD));
    }

    #[test]
    fn statuses_match_the_sdk_spelling() {
        // `check` passes the SDK's `as_str`; these are the strings `outcome` matches on.
        assert_eq!(LivenessSessionStatus::Succeeded.as_str(), "SUCCEEDED");
        assert_eq!(LivenessSessionStatus::Failed.as_str(), "FAILED");
        assert_eq!(LivenessSessionStatus::Created.as_str(), "CREATED");
        assert_eq!(LivenessSessionStatus::InProgress.as_str(), "IN_PROGRESS");
        assert_eq!(LivenessSessionStatus::Expired.as_str(), "EXPIRED");
    }

    #[test]
    fn default_threshold_matches_the_development_adapter() {
        assert_eq!(DEFAULT_THRESHOLD, crate::dev::LIVENESS_THRESHOLD);
    }

    #[test]
    fn session_ids_must_be_hyphenated_uuids() {
        assert!(is_session_id(SESSION));
        assert!(is_session_id("0F8E3C9A-1B2D-4E5F-8A7B-6C5D4E3F2A1B"));
        assert!(is_session_id(&uuid::Uuid::new_v4().to_string()));
        assert!(!is_session_id(""));
        // One short, one long.
        assert!(!is_session_id(&SESSION[..35]));
        assert!(!is_session_id(&format!("{SESSION}0")));
        // Other UUID spellings the service does not issue.
        assert!(!is_session_id("0f8e3c9a1b2d4e5f8a7b6c5d4e3f2a1b"));
        assert!(!is_session_id(&format!("{{{SESSION}}}")));
        // Right length, wrong characters or dashes in the wrong places.
        assert!(!is_session_id("0f8e3c9g-1b2d-4e5f-8a7b-6c5d4e3f2a1b"));
        assert!(!is_session_id("0f8e3c9a11b2d-4e5f-8a7b-6c5d4e3f2a1b"));
        assert!(!is_session_id("0f8e3c9a-1b2d-4e5f-8a7b-6c5d4e3f2a1-"));
        assert!(!is_session_id("------------------------------------"));
        // 36 bytes, but not all ASCII.
        let accented = format!("{}\u{e9}", &SESSION[..34]);
        assert_eq!(accented.len(), 36);
        assert!(!is_session_id(&accented));
        // The development adapter's sessions are not Rekognition's.
        assert!(!is_session_id("dev-liveness.eyJzdWIiOiIxIn0.abc"));
    }

    #[tokio::test]
    async fn a_malformed_session_id_is_refused_without_a_call() {
        // No credentials are configured, so any call fails as Unavailable: InvalidSession
        // shows the check stopped before reaching the client.
        let config = aws_sdk_rekognition::Config::builder()
            .behavior_version(aws_sdk_rekognition::config::BehaviorVersion::latest())
            .region(aws_sdk_rekognition::config::Region::new("eu-west-1"))
            .build();
        let liveness =
            RekognitionLiveness::from_client(aws_sdk_rekognition::Client::from_conf(config), DEFAULT_THRESHOLD);
        assert_eq!(liveness.threshold(), DEFAULT_THRESHOLD);
        let refused = liveness.result("dev-liveness.abc.def").await;
        assert!(matches!(refused, Err(LivenessError::InvalidSession(_))), "{refused:?}");
        // The contrast: a well-formed id does reach the client, which fails for want of
        // credentials before sending anything.
        let attempted = liveness.result(SESSION).await;
        assert!(matches!(attempted, Err(LivenessError::Unavailable(_))), "{attempted:?}");
    }

    fn service(error: GetFaceLivenessSessionResultsError) -> LivenessError {
        // What DisplayErrorContext would show: the service's code and message.
        let detail = format!("service error: {}", DisplayErrorContext(&error));
        classify(SESSION, Some(&error), detail)
    }

    #[test]
    fn refusals_of_the_session_are_invalid_and_carry_no_aws_detail() {
        use GetFaceLivenessSessionResultsError as E;
        for error in [
            E::SessionNotFoundException(SessionNotFoundException::builder().message("secret detail").build()),
            E::InvalidParameterException(InvalidParameterException::builder().message("secret detail").build()),
            E::AccessDeniedException(AccessDeniedException::builder().message("secret detail").build()),
        ] {
            match service(error) {
                LivenessError::InvalidSession(m) => assert!(!m.contains("secret"), "{m}"),
                other => panic!("expected InvalidSession, got {other:?}"),
            }
        }
    }

    #[test]
    fn other_failures_are_unavailable_with_detail() {
        use GetFaceLivenessSessionResultsError as E;
        for error in [
            E::ThrottlingException(ThrottlingException::builder().message("slow down").build()),
            E::InternalServerError(InternalServerError::builder().message("slow down").build()),
        ] {
            match service(error) {
                LivenessError::Unavailable(m) => assert!(m.contains("slow down"), "{m}"),
                other => panic!("expected Unavailable, got {other:?}"),
            }
        }
        // Timeouts and connection failures carry no service error.
        match classify(SESSION, None, "dispatch failure: timed out".into()) {
            LivenessError::Unavailable(m) => assert!(m.contains("timed out") && m.contains(SESSION), "{m}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}
