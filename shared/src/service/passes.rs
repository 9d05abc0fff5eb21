//! Truck city-access passes (R13): city rules for anyone, applications by drivers and fleet managers,
//! staff review, the signed pass and its show code, officers' zone-and-time checks, revocation.

use super::issuance::signer_error;
use super::verification::DocumentKind;
use super::views::{PassCheckView, PassView, Reader};
use super::{authorise, InputError, PassDesk, ServiceError, Services};
use crate::credential::{pass as pass_document, showcode};
use crate::kernel::access::Action;
use crate::kernel::caller::{Caller, Role};
use crate::kernel::check_log::CheckLog;
use crate::kernel::golive::Availability;
use crate::kernel::listing::{ListPosition, ListRequest};
use crate::kernel::notice::{Notice, PendingNotice};
use crate::kernel::showcode::CachedShowCode;
use crate::kernel::time::{local_date, local_offset};
use crate::kernel::versioned::{retry_on_conflict, ATTEMPTS};
use crate::kernel::Colour;
use crate::truck::clock::TimeWindow;
use crate::truck::pass::{PassCheck, PassOpening, PassStatus, TruckPass};
use crate::truck::request::{PassRequest, PassSummary, Refusal};
use crate::truck::rules::{CityTruckRules, HourRestriction, PassType, TruckRulesChange, Zone};
use crate::truck::vehicle::{plate_is_valid, EmissionStandard, VehicleType};
use crate::truck::views::{rules_view, RulesView};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// How long a pass's show code is valid (as a licence's).
pub const PASS_CODE_SECONDS: i64 = super::licence::SHOW_CODE_SECONDS;
/// Most zones one application may name (a city has a handful).
pub const MAX_ZONES: usize = 16;
/// Most vehicles one register import may carry.
pub const MAX_VEHICLE_LINES: usize = 20_000;

pub(super) const PASS_DOCUMENT: DocumentKind = DocumentKind {
    doc_type: pass_document::DOC_TYPE,
    namespace: pass_document::NAMESPACE,
    serial_element: "pass_serial",
};

/// `POST /truck/passes`: the vehicle's type and emission standard come from
/// the register; when the applicant states them they must agree with it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassApplication {
    pub plate: String,
    #[serde(default)]
    pub vehicle_type: Option<VehicleType>,
    #[serde(default)]
    pub emission: Option<EmissionStandard>,
    pub city: String,
    pub pass_type: String,
    pub zones: Vec<String>,
    pub valid_from: NaiveDate,
    /// Inclusive.
    pub valid_to: NaiveDate,
    pub windows: Vec<TimeWindow>,
}

/// `POST /truck/reviews/{id}/decision`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassDecision {
    pub verdict: PassVerdict,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassVerdict {
    Approve,
    Reject,
}

/// `POST /admin/truck/passes/{id}/revocation`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Revocation {
    pub reason: String,
}

/// `PUT /admin/truck/cities/{city}`: the city's new terms. Passes already
/// issued keep the terms they were issued under.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RulesChangeRequest {
    pub zones: Vec<Zone>,
    pub restricted_hours: Vec<HourRestriction>,
    pub banned_vehicle_types: Vec<VehicleType>,
    pub min_emission: EmissionStandard,
    pub pass_types: Vec<PassType>,
    /// The rules version the change was written against; a concurrent change is refused.
    pub expected_rules_version: u64,
    pub reason: String,
}

/// `POST /truck/verifications`: exactly one of `code` and `mdoc`, the zone
/// the truck is in, and optionally the city (the pass's own by default) and moment.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassVerificationRequest {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub mdoc: Option<String>,
    pub zone: String,
    #[serde(default)]
    pub city: Option<String>,
    /// RFC 3339; now when absent.
    #[serde(default)]
    pub at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CitySummary {
    pub city: String,
    pub name: String,
    pub batch: u8,
    pub availability: Availability,
    pub rules_version: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CityList {
    pub at: DateTime<Utc>,
    pub cities: Vec<CitySummary>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CityRulesAdminView {
    pub rules: CityTruckRules,
    pub availability: Availability,
    pub changes: Vec<TruckRulesChange>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassList {
    pub at: DateTime<Utc>,
    /// Newest first, without their signed documents (read one pass for that).
    pub passes: Vec<PassView>,
    /// The cursor of the next page (`?cursor=`); absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassCode {
    pub serial: String,
    pub code: String,
    pub colour: Colour,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub refresh_after: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassQueueItem {
    pub pass: PassView,
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
}

/// What the officer's terminal shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassVerification {
    /// The credential verified and the pass it names is active.
    pub valid: bool,
    /// The truck may be in the zone at that moment.
    pub allowed: bool,
    /// The stable code of the answer: a credential failure, or the decision's reason.
    pub reason: String,
    pub detail: String,
    pub method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// The pass's terms and status, once its credential verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<PassView>,
    pub zone: String,
    pub moment: DateTime<Utc>,
    pub checked_at: DateTime<Utc>,
    pub check_id: String,
}

/// A pass serial: `TP`, the city, the local date, eight random digits.
pub(super) fn new_pass_serial(city: &str, now: DateTime<Utc>) -> String {
    use rand_core::RngCore;
    let random = rand_core::OsRng.next_u32() % 100_000_000;
    format!("TP{city}{}{random:08}", local_date(now).format("%y%m%d"))
}

pub(super) fn pass_refused(reasons: Vec<Refusal>) -> ServiceError {
    ServiceError::PassRefused { reasons }
}

/// The notice the owner's and the fleet's apps are pushed when someone else decided their pass.
pub(super) fn pass_decided(pass: &TruckPass) -> Notice {
    let state = match pass.status {
        PassStatus::Active => "approved",
        ref other => other.code(),
    };
    Notice::PassDecided {
        owner_id: pass.owner_id.clone(),
        fleet_id: pass.fleet_id.clone(),
        serial: pass.serial.clone(),
        state: state.into(),
    }
}

/// How a pass is shown to the caller acting in `role`: its owner and fleet manager as the holder, staff as staff.
pub(super) fn pass_reader(role: Role) -> Reader {
    match role {
        Role::Holder | Role::FleetManager => Reader::Holder,
        _ => Reader::Staff,
    }
}

pub(super) fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

impl Services {
    /// `GET /truck/cities`: every city's place in the rollout, for anyone.
    pub async fn truck_cities(&self) -> Result<CityList, ServiceError> {
        let now = self.now();
        let cities = self
            .truck_rulebook()
            .await?
            .cities
            .iter()
            .cloned()
            .map(|rules| CitySummary {
                availability: rules.availability(now),
                city: rules.city,
                name: rules.name,
                batch: rules.batch,
                rules_version: rules.rules_version,
            })
            .collect();
        Ok(CityList { at: now, cities })
    }

    /// The city's rules in force, from memory (every apply and public read).
    pub(super) async fn rules_of(&self, city: &str) -> Result<CityTruckRules, ServiceError> {
        self.truck_rulebook()
            .await?
            .city(city)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound {
                what: "city",
                id: city.into(),
            })
    }

    /// The city's rules as stored now (an administrator's read and what a change decides on).
    pub(super) async fn current_rules_of(&self, city: &str) -> Result<CityTruckRules, ServiceError> {
        self.current_truck_rulebook()
            .await?
            .city(city)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound {
                what: "city",
                id: city.into(),
            })
    }

    /// `GET /truck/cities/{city}`: the city's restrictions and pass rules, for anyone.
    pub async fn truck_city_rules(&self, city: &str) -> Result<RulesView, ServiceError> {
        Ok(rules_view(&self.rules_of(city).await?, self.now()))
    }

    /// Whether the caller acts for the vehicle: its owner (a holder) or its
    /// fleet's manager. The role the caller acts in, when they do.
    pub(super) fn acting_for(caller: &Caller, owner_id: &str, fleet_id: Option<&str>) -> Option<Role> {
        if caller.has(Role::FleetManager) && fleet_id.is_some() && caller.organisation.as_deref() == fleet_id {
            return Some(Role::FleetManager);
        }
        (caller.has(Role::Holder) && caller.id == owner_id).then_some(Role::Holder)
    }
}

impl PassDesk {
    /// `POST /truck/passes` (R13): checked against the city's rules with every
    /// reason for a refusal; an automatic pass type is signed and issued at
    /// once, one that needs review waits in the pass review queue.
    pub async fn apply_for_pass(&self, caller: &Caller, request: PassApplication) -> Result<PassView, ServiceError> {
        authorise(caller, Action::ApplyForPass)?;
        if !plate_is_valid(&request.plate) {
            return Err(ServiceError::Invalid {
                detail: format!(
                    "{:?} is not a plate: a province abbreviation, a capital letter, then 5 or 6 letters or digits.",
                    request.plate
                ),
                errors: vec![InputError {
                    line: None,
                    field: "plate".into(),
                    message: "not a plate".into(),
                }],
            });
        }
        if request.zones.len() > MAX_ZONES {
            return Err(ServiceError::invalid(format!(
                "A pass names at most {MAX_ZONES} zones."
            )));
        }
        let rules = self.rules_of(&request.city).await?;
        let vehicle = self
            .records
            .vehicle(&request.plate)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: "vehicle",
                id: request.plate.clone(),
            })?;
        let role = Services::acting_for(caller, &vehicle.owner_id, vehicle.fleet_id.as_deref()).ok_or_else(|| {
            ServiceError::NotYourVehicle {
                plate: vehicle.plate.clone(),
            }
        })?;
        let mut mismatches = Vec::new();
        if request.vehicle_type.is_some_and(|t| t != vehicle.vehicle_type) {
            mismatches.push(Refusal {
                code: "vehicle-mismatch",
                message: format!(
                    "The register has {} as {}, not as stated.",
                    vehicle.plate,
                    vehicle.vehicle_type.name()
                ),
            });
        }
        if request.emission.is_some_and(|e| e != vehicle.emission) {
            mismatches.push(Refusal {
                code: "vehicle-mismatch",
                message: format!(
                    "The register has {} at {}, not as stated.",
                    vehicle.plate,
                    vehicle.emission.name()
                ),
            });
        }
        let pass_request = PassRequest {
            plate: vehicle.plate.clone(),
            vehicle_type: vehicle.vehicle_type,
            emission: vehicle.emission,
            owner_id: vehicle.owner_id.clone(),
            fleet_id: vehicle.fleet_id.clone(),
            city: request.city.clone(),
            pass_type: request.pass_type.clone(),
            zones: request.zones.clone(),
            valid_from: request.valid_from,
            valid_to: request.valid_to,
            windows: request.windows.clone(),
        };
        // The vehicle's pass list is read, checked and written conditionally
        // on its version: a concurrent application makes this one read again.
        let (rules, pass_request, mismatches, vehicle) = (&rules, &pass_request, &mismatches, &vehicle);
        retry_on_conflict(ATTEMPTS, move || async move {
            let now = self.now();
            let (existing, list_version) = self.records.passes_of_vehicle(&vehicle.plate).await?;
            let summaries: Vec<PassSummary> = existing.iter().map(PassSummary::from).collect();
            // A pass is named by its serial, in the API as on the credential.
            let serial = new_pass_serial(&rules.city, now);
            let opening = PassOpening {
                id: serial.clone(),
                serial,
                by: caller.actor(role),
                at: now,
            };
            let mut pass = match TruckPass::open(rules, pass_request, &summaries, opening) {
                Ok(pass) if mismatches.is_empty() => pass,
                Ok(_) => return Err(pass_refused(mismatches.clone())),
                Err(mut reasons) => {
                    reasons.extend(mismatches.iter().cloned());
                    return Err(pass_refused(reasons));
                }
            };
            match pass.status {
                PassStatus::Active => pass.document = Some(self.sign_pass(&pass, &rules.name).await?),
                _ => pass.review_due_at = Some(self.calendar.review_due(now, local_offset())),
            }
            // A serial taken meanwhile (AlreadyExists) is a conflict too: read again with a new serial.
            self.records.create_pass(&pass, list_version).await?;
            tracing::info!(pass = %pass.id, status = %pass.status, by_role = %role, "truck pass opened");
            Ok(PassView::of(&pass, Reader::Holder))
        })
        .await
    }

    /// Signs the pass's mdoc with the active document signer.
    pub(super) async fn sign_pass(&self, pass: &TruckPass, city_name: &str) -> Result<String, ServiceError> {
        let active = self.active_signer().await?;
        let issued = pass_document::issue(
            pass,
            city_name,
            self.now(),
            &*self.signer,
            &active.key_id,
            &active.certificate,
        )
        .await
        .map_err(|e| match e {
            crate::credential::mdoc::MdocError::Signer(e) => signer_error(e),
            other => ServiceError::Unavailable(format!("the pass could not be signed: {other}")),
        })?;
        Ok(STANDARD.encode(issued.issuer_signed))
    }
}

impl Services {
    /// A pass the caller may see: its owner, its fleet's manager, staff.
    /// Anyone else is told it does not exist.
    pub(super) async fn visible_pass(
        &self,
        caller: &Caller,
        id: &str,
        staff: &[Role],
    ) -> Result<(TruckPass, Role), ServiceError> {
        let not_found = || ServiceError::NotFound {
            what: "pass",
            id: id.into(),
        };
        let pass = self.records.pass(id).await?.ok_or_else(not_found)?;
        if let Some(role) = Services::acting_for(caller, &pass.owner_id, pass.fleet_id.as_deref()) {
            return Ok((pass, role));
        }
        match caller.acting_as(staff) {
            Some(role) => Ok((pass, role)),
            None => Err(not_found()),
        }
    }

    /// `GET /truck/passes/{id}`
    pub async fn truck_pass(&self, caller: &Caller, id: &str) -> Result<PassView, ServiceError> {
        authorise(caller, Action::ReadPass)?;
        let (pass, role) = self.visible_pass(caller, id, &[Role::Reviewer, Role::Admin]).await?;
        Ok(PassView::of(&pass, pass_reader(role)))
    }

    /// `GET /truck/passes?plate=&limit=&cursor=`: a holder's own vehicles' passes and a fleet manager's fleet's,
    /// optionally of one plate, newest first, a page at a time. Each source is read for one page and one more
    /// pass (which says whether another page follows), never whole.
    pub async fn truck_passes(
        &self,
        caller: &Caller,
        plate: Option<&str>,
        request: &ListRequest,
    ) -> Result<PassList, ServiceError> {
        authorise(caller, Action::ListPasses)?;
        let page = request.query()?;
        let fleet = if caller.has(Role::FleetManager) {
            Some(caller.organisation.as_deref().ok_or_else(|| {
                ServiceError::Forbidden(
                    "The token names no fleet (org claim); a fleet manager acts for one fleet.".into(),
                )
            })?)
        } else {
            None
        };
        let read = page.with_one_more();
        let mut passes = Vec::new();
        match plate {
            // One vehicle: its own list, of which the caller sees the passes of its own time as owner or the
            // fleet's (what the owner's and fleet's lists hold).
            Some(plate) => passes.extend(self.records.passes_of_plate(plate, &read).await?),
            None => {
                if let Some(fleet) = fleet {
                    passes.extend(self.records.passes_of_fleet(fleet, &read).await?);
                }
                if caller.has(Role::Holder) {
                    passes.extend(self.records.passes_of_owner(&caller.id, &read).await?);
                }
            }
        }
        let mut seen = HashSet::new();
        passes.retain(|p| seen.insert(p.id.clone()));
        passes.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        // More than a page read from the sources: the next page starts after this page's last pass, in each.
        let next = (passes.len() > page.limit).then(|| {
            let last = &passes[page.limit - 1];
            ListPosition {
                at: last.created_at,
                id: last.id.clone(),
            }
            .cursor()
        });
        passes.truncate(page.limit);
        // A plate's list holds its earlier owners' passes too: the caller sees those it acts for (a page may
        // then hold fewer than the limit; `next` still says whether more follow).
        passes.retain(|p| Services::acting_for(caller, &p.owner_id, p.fleet_id.as_deref()).is_some());
        Ok(PassList {
            at: self.now(),
            passes: passes
                .iter()
                .map(|pass| PassView::of(pass, Reader::Holder).listed())
                .collect(),
            next,
        })
    }

    /// Reads, changes and stores a pass, reading again when it changed
    /// meanwhile; `Conflict` when it kept changing.
    pub(super) async fn change_pass(
        &self,
        id: &str,
        change: impl Fn(&mut TruckPass) -> Result<(), ServiceError>,
    ) -> Result<TruckPass, ServiceError> {
        self.change_pass_noting(id, false, change).await.map(|(pass, _)| pass)
    }

    /// As [`Services::change_pass`]; when `noted`, the owner's and fleet's `PassDecided` notice is recorded
    /// in the same write and returned for delivery.
    pub(super) async fn change_pass_noting(
        &self,
        id: &str,
        noted: bool,
        change: impl Fn(&mut TruckPass) -> Result<(), ServiceError>,
    ) -> Result<(TruckPass, Vec<PendingNotice>), ServiceError> {
        let change = &change;
        retry_on_conflict(ATTEMPTS, move || async move {
            let mut pass = self.records.pass(id).await?.ok_or_else(|| ServiceError::NotFound {
                what: "pass",
                id: id.into(),
            })?;
            let expected = pass.version;
            change(&mut pass)?;
            pass.version = expected + 1;
            let notices: Vec<PendingNotice> = noted.then(|| self.notice(pass_decided(&pass))).into_iter().collect();
            self.records.update_pass_noting(&pass, expected, &notices).await?;
            Ok((pass, notices))
        })
        .await
    }

    /// `DELETE /truck/passes/{id}`: the owner or fleet manager gives a pass up.
    pub async fn withdraw_pass(&self, caller: &Caller, id: &str) -> Result<PassView, ServiceError> {
        authorise(caller, Action::WithdrawPass)?;
        let (_, role) = self.visible_pass(caller, id, &[]).await?;
        let by = caller.actor(role);
        let now = self.now();
        let pass = self
            .change_pass(id, |pass| pass.withdraw(&by, now).map_err(ServiceError::from))
            .await?;
        tracing::info!(pass = %id, by_role = %role, "truck pass withdrawn");
        Ok(PassView::of(&pass, Reader::Holder))
    }
}

impl PassDesk {
    /// `GET /truck/passes/{id}/code`: a short-lived `TRK2:` code, signed as a
    /// licence's is but of its own kind, so neither can pass for the other.
    pub async fn pass_code(&self, caller: &Caller, id: &str) -> Result<PassCode, ServiceError> {
        authorise(caller, Action::ShowPass)?;
        let (pass, _) = self.visible_pass(caller, id, &[]).await?;
        if pass.status != PassStatus::Active {
            return Err(ServiceError::PassNotActive {
                serial: pass.serial.clone(),
                status: pass.status.code(),
            });
        }
        let now = self.now();
        let today = local_date(now);
        // Before its first day a pass is neither in trouble (red) nor good on the road (green): no code yet.
        if today < pass.valid_from {
            return Err(ServiceError::PassNotStarted {
                serial: pass.serial.clone(),
                valid_from: pass.valid_from,
            });
        }
        let colour = if today <= pass.valid_to {
            Colour::Green
        } else {
            Colour::Red
        };
        let code = self.current_pass_code(&pass, colour, now.timestamp()).await?;
        Ok(PassCode {
            serial: pass.serial,
            code: code.code,
            colour,
            issued_at: at(code.issued_at),
            expires_at: at(code.expires_at),
            refresh_after: at(code.expires_at - super::licence::SHOW_CODE_REFRESH_MARGIN),
        })
    }

    /// A pass's code is reused until shortly before it expires, unless its
    /// colour changed (the pass's first day came), as a licence's is.
    pub(super) async fn current_pass_code(
        &self,
        pass: &TruckPass,
        colour: Colour,
        now: i64,
    ) -> Result<CachedShowCode, ServiceError> {
        if let Some(cached) = self
            .records
            .cached_code(showcode::CodeKind::TruckPass, &pass.serial)
            .await?
        {
            if cached.colour == colour
                && cached.expires_at - now > super::licence::SHOW_CODE_REFRESH_MARGIN
                && cached.issued_at <= now
            {
                return Ok(cached);
            }
        }
        let claims = showcode::ShowClaims {
            kind: showcode::CodeKind::TruckPass,
            serial: pass.serial.clone(),
            colour,
            issued_at: now,
            expires_at: now + PASS_CODE_SECONDS,
            nonce: showcode::random_nonce(),
        };
        let code = self.sign_show_code(&claims).await?;
        let cached = CachedShowCode {
            code,
            colour,
            issued_at: now,
            expires_at: claims.expires_at,
        };
        self.records
            .keep_code(showcode::CodeKind::TruckPass, &pass.serial, &cached)
            .await?;
        Ok(cached)
    }
}

impl Services {
    /// `GET /truck/passes/{id}/checks`: which organisation checked the pass, where and when (never the
    /// officer's login id).
    pub async fn pass_checks(&self, caller: &Caller, id: &str) -> Result<Vec<PassCheckView>, ServiceError> {
        authorise(caller, Action::PassChecks)?;
        let (pass, _) = self.visible_pass(caller, id, &[Role::Admin]).await?;
        let checks = CheckLog::<PassCheck>::checks_of(&*self.records, &pass.serial, 200).await?;
        Ok(checks.into_iter().map(PassCheckView::from).collect())
    }
}
