//! A truck pass checked by an officer (R9, R13): offline (signature, validity), online (live status), then
//! whether it lets the truck into this zone at this moment.

use super::passes::*;
use super::verification::{fail, Failure, ENFORCEMENT, MAX_CODE_LENGTH, MAX_MDOC_BASE64};
use super::views::{PassView, Reader};
use super::{authorise, ServiceError, Services};
use crate::credential::showcode;
use crate::kernel::access::Action;
use crate::kernel::caller::Caller;
use crate::truck::decision::{allowed_here_and_now, Decision};
use crate::truck::pass::{PassCheck, PassStatus, TruckPass};
use chrono::{DateTime, Utc};

impl Services {
    /// `POST /truck/verifications` (R9, R13): an officer checks a pass
    /// offline (signature, validity) and online (live status), then whether
    /// it lets the truck into this zone at this moment. Every check is recorded.
    pub async fn verify_pass(
        &self,
        caller: &Caller,
        request: PassVerificationRequest,
    ) -> Result<PassVerification, ServiceError> {
        authorise(caller, Action::VerifyPass)?;
        // A pass check counts against the organisation's quota like a licence check: both are lookups by a
        // verifier, and the enumeration signal must see a walk over pass serials too.
        let counted = self.spend_quota(caller).await?;
        let zone = request.zone.trim().to_string();
        if zone.is_empty() || zone.len() > 64 {
            return Err(ServiceError::invalid(
                "zone names the restricted zone the truck is in (1 to 64 characters).",
            ));
        }
        if request
            .city
            .as_ref()
            .is_some_and(|c| c.len() != 6 || !c.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(ServiceError::invalid("city is a six-digit division code."));
        }
        let now = self.now();
        let moment = match request.at.as_deref() {
            None => now,
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map_err(|_| {
                    ServiceError::invalid(format!(
                        "at must be an RFC 3339 time such as 2026-11-25T10:00:00+08:00; got {text:?}."
                    ))
                })?
                .with_timezone(&Utc),
        };
        let (method, checked) = match (&request.code, &request.mdoc) {
            (Some(code), None) => {
                if code.len() > MAX_CODE_LENGTH {
                    return Err(ServiceError::TooLarge { limit: MAX_CODE_LENGTH });
                }
                ("code", self.check_code(code, showcode::CodeKind::TruckPass, now).await?)
            }
            (None, Some(text)) => {
                if text.len() > MAX_MDOC_BASE64 {
                    return Err(ServiceError::TooLarge { limit: MAX_MDOC_BASE64 });
                }
                ("mdoc", self.check_mdoc(text, &PASS_DOCUMENT, now).await?)
            }
            _ => {
                return Err(ServiceError::invalid(
                    "Present exactly one of code (the pass's QR content) or mdoc (its IssuerSigned, base64).",
                ))
            }
        };
        let outcome: Result<(TruckPass, Decision), Failure> = match checked {
            Ok(serial) => match self.records.pass(&serial).await? {
                None => Err(Failure {
                    serial: Some(serial),
                    ..fail("unknown-pass", "No truck pass has this serial.")
                }),
                Some(pass) => {
                    let city = request.city.clone().unwrap_or_else(|| pass.city.clone());
                    match self.truck_rulebook().await?.city(&city).cloned() {
                        None => Err(Failure {
                            serial: Some(serial),
                            ..fail("unknown-city", format!("City {city} has no truck rules."))
                        }),
                        Some(rules) => {
                            let decision = allowed_here_and_now(&pass, &rules, &self.calendar, &zone, moment);
                            Ok((pass, decision))
                        }
                    }
                }
            },
            Err(failure) => Err(failure),
        };
        let (valid, allowed, reason, detail, serial, pass) = match outcome {
            Ok((pass, decision)) => (
                pass.status == PassStatus::Active,
                decision.allowed,
                decision.reason.to_string(),
                decision.message,
                Some(pass.serial.clone()),
                Some(PassView::of(&pass, Reader::Staff).listed()),
            ),
            Err(f) => (false, false, f.reason, f.detail, f.serial, None),
        };
        let check = PassCheck {
            id: uuid::Uuid::now_v7().to_string(),
            at: now,
            verifier_id: caller.id.clone(),
            organisation: caller.organisation.clone(),
            method: method.into(),
            serial: serial.clone(),
            zone: zone.clone(),
            moment,
            valid,
            allowed,
            reason: reason.clone(),
        };
        self.records.record(&check).await?;
        self.measure(caller, &counted, Some(reason.as_str()), now).await?;
        tracing::info!(check = %check.id, valid, allowed, reason = %reason, method, purpose = ENFORCEMENT, "truck pass verification recorded");
        Ok(PassVerification {
            valid,
            allowed,
            reason,
            detail,
            method,
            serial,
            pass,
            zone,
            moment,
            checked_at: now,
            check_id: check.id,
        })
    }
}
