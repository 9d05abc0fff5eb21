//! Show (R6, R8): the holder's electronic licence, its live status, the show code and the rendered pages.

use super::issuance::signer_error;
use super::refresh::{RefreshCause, RefreshOutcome};
use super::{authorise, ServiceError, Showing, Signing};
use crate::credential::showcode::CodeKind;
use crate::credential::{barcode, pages, showcode};
use crate::issuance::edl::{self, EdlStatus, ElectronicLicence};
use crate::kernel::access::Action;
use crate::kernel::caller::Caller;
use crate::kernel::showcode::CachedShowCode;
use crate::kernel::time::local_offset;
use crate::kernel::Colour;
use crate::register::licence::Licence;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// How long a show code is valid.
pub const SHOW_CODE_SECONDS: i64 = 300;
/// A cached code is handed out again until this close to its expiry.
pub const SHOW_CODE_REFRESH_MARGIN: i64 = 60;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenceView {
    pub serial: String,
    #[serde(flatten)]
    pub status: EdlStatus,
    pub colour: Colour,
    /// Why the code is red, with stable codes; empty when green.
    pub red_reasons: Vec<&'static str>,
    pub issued_at: DateTime<Utc>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    /// The signed document's own life: weeks, re-signed without the holder doing anything.
    pub document_signed_at: DateTime<Utc>,
    pub document_valid_until: DateTime<Utc>,
    /// The barcode's content: the serial and its check character.
    pub barcode: String,
    /// What to do when the licence is no longer valid (R11).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    pub licence: Licence,
    /// The signed ISO 18013-5 `IssuerSigned`, base64 CBOR.
    pub document: String,
    /// Where the document's status is published (the MSO's `status`): an offline verifier downloads `uri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_list: Option<crate::credential::iso18013_5::StatusListReference>,
    /// When the live state was read.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShowCode {
    pub code: String,
    pub barcode: String,
    pub colour: Colour,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Ask again after this time for a fresh code.
    pub refresh_after: DateTime<Utc>,
}

/// A rendered page and its content type.
pub struct RenderedPage {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

fn barcode_of(serial: &str) -> String {
    barcode::with_check_character(serial).unwrap_or_else(|| serial.to_string())
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

impl Showing {
    /// The holder's latest electronic licence and the licence it was made from.
    async fn own_electronic_licence(&self, caller: &Caller) -> Result<(ElectronicLicence, Licence), ServiceError> {
        authorise(caller, Action::ShowLicence)?;
        let none = || ServiceError::NotFound {
            what: "electronic licence",
            id: "of this holder".into(),
        };
        let serial = self.records.current_serial_of(&caller.id).await?.ok_or_else(none)?;
        let edl = self.records.electronic_licence(&serial).await?.ok_or_else(none)?;
        let licence = self.records.licence(&edl.licence_number).await?.ok_or_else(none)?;
        Ok((edl, licence))
    }

    /// The holder's licence with a document fresh enough to hand out: one within the policy's
    /// window of its end is signed again first. A signer failure then hands out the current
    /// document while it is still valid (the next call or the scheduled refresh tries again),
    /// and is an error only once it has ended.
    async fn own_fresh_electronic_licence(
        &self,
        caller: &Caller,
    ) -> Result<(ElectronicLicence, Licence), ServiceError> {
        let (edl, licence) = self.own_electronic_licence(caller).await?;
        let now = self.now();
        if !edl.is_active() || !self.documents.show_refresh_due(&edl, now) {
            return Ok((edl, licence));
        }
        match self.refresh_document(&edl.serial, RefreshCause::Showing).await {
            Ok((RefreshOutcome::Refreshed(fresh) | RefreshOutcome::Unchanged(Some(fresh)), _)) => Ok((*fresh, licence)),
            Ok((RefreshOutcome::Unchanged(None), _)) => Ok((edl, licence)),
            Err(e) if now <= edl.document_valid_until => {
                tracing::warn!(serial = %edl.serial, error = %e, "document not refreshed; the current one is handed out");
                Ok((edl, licence))
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /licence`: the licence with its live status (R7: points and states as they are now)
    /// and a signed document that is not about to end.
    pub async fn show_licence(&self, caller: &Caller) -> Result<LicenceView, ServiceError> {
        let (edl, licence) = self.own_fresh_electronic_licence(caller).await?;
        let today = self.today();
        let advice = match &edl.status {
            EdlStatus::Active => None,
            EdlStatus::Superseded { .. } => {
                Some("This electronic licence is no longer valid; apply again for a new one.".into())
            }
            EdlStatus::Stopped { .. } => Some("This electronic licence was stopped by the authority.".into()),
            EdlStatus::Expired { .. } => {
                Some("This electronic licence has expired; renew the licence and apply again.".into())
            }
        };
        Ok(LicenceView {
            barcode: barcode_of(&edl.serial),
            serial: edl.serial.clone(),
            colour: edl::colour(&licence, today),
            red_reasons: edl::red_reasons(&licence, today),
            status: edl.status.clone(),
            issued_at: edl.issued_at,
            valid_from: edl.valid_from,
            valid_until: edl.valid_until,
            document_signed_at: edl.document_signed_at,
            document_valid_until: edl.document_valid_until,
            advice,
            document: edl.issuer_signed.clone(),
            status_list: edl
                .status_entry
                .map(|entry| crate::credential::iso18013_5::StatusListReference {
                    idx: entry.idx,
                    uri: self.status_lists.uri(entry.list),
                }),
            licence,
            at: self.now(),
        })
    }

    /// `GET /licence/code`: a short-lived signed code. A code is reused until
    /// shortly before it expires, unless the colour changed meanwhile (R7).
    pub async fn show_code(&self, caller: &Caller) -> Result<ShowCode, ServiceError> {
        let (edl, licence) = self.own_fresh_electronic_licence(caller).await?;
        if !edl.is_active() {
            return Err(ServiceError::LicenceNotActive {
                serial: edl.serial.clone(),
            });
        }
        let code = self.current_code(&edl, &licence).await?;
        Ok(ShowCode {
            barcode: barcode_of(&edl.serial),
            code: code.code,
            colour: code.colour,
            issued_at: at(code.issued_at),
            expires_at: at(code.expires_at),
            refresh_after: at(code.expires_at - SHOW_CODE_REFRESH_MARGIN),
        })
    }

    async fn current_code(&self, edl: &ElectronicLicence, licence: &Licence) -> Result<CachedShowCode, ServiceError> {
        let now = self.now().timestamp();
        let colour = edl::colour(licence, self.today());
        if let Some(cached) = self.records.cached_code(CodeKind::Licence, &edl.serial).await? {
            if cached.colour == colour && cached.expires_at - now > SHOW_CODE_REFRESH_MARGIN && cached.issued_at <= now
            {
                return Ok(cached);
            }
        }
        let claims = showcode::ShowClaims {
            kind: showcode::CodeKind::Licence,
            serial: edl.serial.clone(),
            colour,
            issued_at: now,
            expires_at: now + SHOW_CODE_SECONDS,
            nonce: showcode::random_nonce(),
        };
        let code = self.sign_show_code(&claims).await?;
        let cached = CachedShowCode {
            code,
            colour,
            issued_at: now,
            expires_at: now + SHOW_CODE_SECONDS,
        };
        self.records.keep_code(CodeKind::Licence, &edl.serial, &cached).await?;
        Ok(cached)
    }
}

impl Signing {
    /// Signs a show code (a licence's or a truck pass's) with the active document signer.
    pub(crate) async fn sign_show_code(&self, claims: &showcode::ShowClaims) -> Result<String, ServiceError> {
        let active = self.active_signer().await?;
        showcode::encode(claims, &*self.signer, &active.key_id, active.kid.as_bytes())
            .await
            .map_err(|e| match e {
                showcode::ShowCodeError::Signer(e) => signer_error(e),
                other => ServiceError::Unavailable(format!("the show code could not be made: {other}")),
            })
    }
}

impl Showing {
    /// `GET /licence/pages/{page}`: `front.svg`, `front.png`, `back.svg` or `back.png` (R6).
    pub async fn licence_page(&self, caller: &Caller, page: &str) -> Result<RenderedPage, ServiceError> {
        let (side, format) = page.split_once('.').unwrap_or((page, ""));
        if !matches!(side, "front" | "back") || !matches!(format, "svg" | "png") {
            return Err(ServiceError::NotFound {
                what: "page",
                id: page.into(),
            });
        }
        let (edl, licence) = self.own_electronic_licence(caller).await?;
        let offset = local_offset();
        let date = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
        let render_error =
            |e: pages::PageError| ServiceError::Unavailable(format!("the page could not be rendered: {e}"));
        if side == "back" {
            let changes = self.records.licence_changes(&licence.number).await?;
            let page = pages::BackPage {
                address: licence.address.clone(),
                issuing_authority: licence.issuing_authority.name.clone(),
                points: licence.points,
                states: licence.states.iter().map(|s| s.code().to_string()).collect(),
                record: changes
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {} ({})",
                            c.at.with_timezone(&offset).format("%Y-%m-%d"),
                            c.reason,
                            c.changed.join(", ")
                        )
                    })
                    .collect(),
                class_rules: licence
                    .classes
                    .iter()
                    .map(|c| (c.code().to_string(), c.rule().to_string()))
                    .collect(),
            };
            return Ok(match format {
                "svg" => RenderedPage {
                    content_type: "image/svg+xml",
                    body: pages::back_svg(&page).into_bytes(),
                },
                _ => RenderedPage {
                    content_type: "image/png",
                    body: self
                        .pages
                        .png(&pages::PngRequest::Back(page))
                        .await
                        .map_err(render_error)?,
                },
            });
        }
        // The front carries a live show code only while the licence is active.
        let show_code = if edl.is_active() {
            self.current_code(&edl, &licence).await?.code
        } else {
            String::new()
        };
        // The portrait signed into the licence, as officers see it: no second copy to read or keep in step.
        let portrait = STANDARD
            .decode(&edl.issuer_signed)
            .ok()
            .and_then(|issuer_signed| crate::credential::mdoc::portrait_of(&issuer_signed));
        let today = self.today();
        let page = pages::FrontPage {
            name: licence.name.clone(),
            sex: match licence.sex {
                crate::register::licence::Sex::Male => "男 M".into(),
                crate::register::licence::Sex::Female => "女 F".into(),
            },
            nationality: licence.nationality.clone(),
            birth_date: date(licence.birth_date),
            licence_number: licence.number.clone(),
            classes: licence.classes.iter().map(|c| c.code()).collect::<Vec<_>>().join(" "),
            valid_from: date(licence.valid_from),
            valid_to: date(licence.valid_to),
            first_issue_date: date(licence.first_issue_date),
            archive_number: licence.archive_number.clone(),
            generated_at: edl
                .issued_at
                .with_timezone(&offset)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            status: edl::colour(&licence, today).as_str().into(),
            show_code,
            barcode_data: barcode_of(&edl.serial),
            portrait_jpeg: portrait,
        };
        Ok(match format {
            "svg" => RenderedPage {
                content_type: "image/svg+xml",
                body: pages::front_svg(&page).into_bytes(),
            },
            _ => RenderedPage {
                content_type: "image/png",
                body: self
                    .pages
                    .png(&pages::PngRequest::Front(Box::new(page)))
                    .await
                    .map_err(render_error)?,
            },
        })
    }
}
