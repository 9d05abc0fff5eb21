//! Truck passes for staff and administrators (R13): the review queue and its decisions, revocation, the
//! vehicle register's import, the cities' rules and their switches.

use super::passes::*;
use super::reviews::{QueueRequest, ReviewPage};
use super::views::{PassView, Reader};
use super::{authorise, ImportReport, InputError, JsonLinesImport, ServiceError, SwitchRequest};
use super::{Administering, PassDesk};
use crate::kernel::access::Action;
use crate::kernel::caller::{Caller, Role};
use crate::kernel::queue::ReviewQueue;
use crate::truck::pass::TruckPass;
use crate::truck::rules::{CityTruckRules, TruckRulesChange};
use crate::truck::vehicle::Vehicle;

impl PassDesk {
    /// `GET /truck/reviews`: passes waiting for staff, earliest due first.
    pub async fn pass_review_queue(
        &self,
        caller: &Caller,
        request: QueueRequest,
    ) -> Result<ReviewPage<PassQueueItem>, ServiceError> {
        // As the photo queue: reviewers work it, the administrator watches its backlog.
        authorise(caller, Action::PassReviewQueue)?;
        let now = self.now();
        let page = ReviewQueue::<TruckPass>::waiting(&*self.records, &request.query(now)?).await?;
        Ok(ReviewPage {
            at: now,
            items: page
                .items
                .into_iter()
                .map(|pass| PassQueueItem {
                    due_at: pass.review_due_at,
                    overdue: pass.review_due_at.is_some_and(|due| due < now),
                    pass: PassView::of(&pass, Reader::Staff),
                })
                .collect(),
            next: page.next,
        })
    }

    /// `POST /truck/reviews/{id}/decision`: approve (the pass is signed and
    /// becomes active) or reject with a reason the applicant reads.
    pub async fn decide_pass(
        &self,
        caller: &Caller,
        id: &str,
        decision: PassDecision,
    ) -> Result<PassView, ServiceError> {
        authorise(caller, Action::DecidePass)?;
        let by = caller.actor(Role::Reviewer);
        let (pass, notices) = match decision.verdict {
            PassVerdict::Reject => {
                if decision.reason.trim().is_empty() {
                    return Err(ServiceError::invalid("A rejection says why: reason is required."));
                }
                let now = self.now();
                self.change_pass_noting(id, true, |pass| {
                    pass.reject(&decision.reason, &by, now).map_err(ServiceError::from)
                })
                .await?
            }
            PassVerdict::Approve => {
                let mut pass = self.records.pass(id).await?.ok_or_else(|| ServiceError::NotFound {
                    what: "pass",
                    id: id.into(),
                })?;
                let expected = pass.version;
                let now = self.now();
                pass.approve(&by, now)?;
                // Signed before it is stored: a signer failure leaves the pass pending.
                let city_name = self
                    .truck_rulebook()
                    .await?
                    .city(&pass.city)
                    .map(|r| r.name.clone())
                    .unwrap_or_else(|| pass.city.clone());
                pass.document = Some(self.sign_pass(&pass, &city_name).await?);
                pass.version = expected + 1;
                let notices = vec![self.notice(pass_decided(&pass))];
                self.records.update_pass_noting(&pass, expected, &notices).await?;
                (pass, notices)
            }
        };
        tracing::info!(pass = %id, status = %pass.status, "truck pass decided");
        self.notices.deliver(&*self.records, &notices).await;
        Ok(PassView::of(&pass, Reader::Staff))
    }
}

impl Administering {
    /// `POST /admin/truck/passes/{id}/revocation`
    pub async fn revoke_pass(&self, caller: &Caller, id: &str, request: Revocation) -> Result<PassView, ServiceError> {
        authorise(caller, Action::RevokePass)?;
        if request.reason.trim().is_empty() {
            return Err(ServiceError::invalid("A revocation says why: reason is required."));
        }
        let by = caller.actor(Role::Admin);
        let now = self.now();
        let (pass, notices) = self
            .change_pass_noting(id, true, |pass| {
                pass.revoke(&request.reason, &by, now).map_err(ServiceError::from)
            })
            .await?;
        tracing::info!(pass = %id, by = %caller.id, "truck pass revoked");
        self.notices.deliver(&*self.records, &notices).await;
        Ok(PassView::of(&pass, Reader::Staff))
    }

    /// `POST /admin/vehicles`: the vehicle register, JSON Lines, all checked before anything is written.
    pub async fn import_vehicles(&self, caller: &Caller, body: &str) -> Result<ImportReport, ServiceError> {
        authorise(caller, Action::ImportVehicles)?;
        let import = JsonLinesImport {
            what: "vehicle",
            max_lines: MAX_VEHICLE_LINES,
            key_field: "plate",
        };
        let vehicles = import.parse(body, |v: &Vehicle| v.plate.clone(), |v: &mut Vehicle| v.problems())?;
        self.records.import_vehicles(&vehicles).await?;
        tracing::info!(by = %caller.id, count = vehicles.len(), "vehicles imported");
        Ok(ImportReport {
            imported: vehicles.len(),
        })
    }

    /// `GET /admin/truck/cities/{city}`: the stored rules with their history.
    pub async fn truck_rules_for_admin(&self, caller: &Caller, city: &str) -> Result<CityRulesAdminView, ServiceError> {
        authorise(caller, Action::ReadTruckRules)?;
        let rules = self.current_rules_of(city).await?;
        Ok(CityRulesAdminView {
            availability: rules.availability(self.now()),
            changes: self.records.truck_rules_changes(city).await?,
            rules,
        })
    }

    /// Stores a changed city with its change record.
    async fn store_rules(
        &self,
        caller: &Caller,
        before: &CityTruckRules,
        mut after: CityTruckRules,
        what: &str,
        reason: &str,
    ) -> Result<CityRulesAdminView, ServiceError> {
        after.version = before.version + 1;
        let change = TruckRulesChange {
            city: before.city.clone(),
            at: self.now(),
            by: caller.actor(Role::Admin),
            what: what.into(),
            rules_version_before: before.rules_version,
            rules_version_after: after.rules_version,
            go_live_before: before.go_live_at,
            go_live_after: after.go_live_at,
            reason: reason.trim().to_string(),
        };
        let stored = self.records.change_truck_rules(&after, before.version, &change).await;
        // Written or not, this instance reads the rules again: its next request sees the change at once.
        self.caches.truck_rules.forget();
        stored?;
        tracing::info!(city = %after.city, by = %caller.id, what, "truck rules changed");
        Ok(CityRulesAdminView {
            availability: after.availability(self.now()),
            changes: self.records.truck_rules_changes(&after.city).await?,
            rules: after,
        })
    }

    /// `PUT /admin/truck/cities/{city}`: new terms under a new rules version.
    /// Passes already issued keep theirs; new applications get the new ones.
    pub async fn change_truck_rules(
        &self,
        caller: &Caller,
        city: &str,
        request: RulesChangeRequest,
    ) -> Result<CityRulesAdminView, ServiceError> {
        authorise(caller, Action::ChangeTruckRules)?;
        if request.reason.trim().is_empty() {
            return Err(ServiceError::invalid("A change of rules says why: reason is required."));
        }
        let before = self.current_rules_of(city).await?;
        if request.expected_rules_version != before.rules_version {
            return Err(ServiceError::Conflict);
        }
        let after = CityTruckRules {
            zones: request.zones,
            restricted_hours: request.restricted_hours,
            banned_vehicle_types: request.banned_vehicle_types,
            min_emission: request.min_emission,
            pass_types: request.pass_types,
            rules_version: before.rules_version + 1,
            ..before.clone()
        };
        let problems = after.problems();
        if !problems.is_empty() {
            return Err(ServiceError::Invalid {
                detail: "The rules are not valid; nothing was changed.".into(),
                errors: problems.into_iter().map(InputError::from).collect(),
            });
        }
        self.store_rules(caller, &before, after, "rules", &request.reason).await
    }

    /// `PUT /admin/truck/rollout/cities/{city}`: the city joins the electronic pass (at a time), or leaves with null.
    pub async fn switch_truck_city(
        &self,
        caller: &Caller,
        city: &str,
        request: SwitchRequest,
    ) -> Result<CityRulesAdminView, ServiceError> {
        authorise(caller, Action::SwitchTruckCity)?;
        let switch = request.switch(self.now())?;
        let before = self.current_rules_of(city).await?;
        let after = CityTruckRules {
            go_live_at: switch.go_live_at,
            ..before.clone()
        };
        self.store_rules(caller, &before, after, "go-live", "").await
    }

    /// `PUT /admin/truck/rollout/batches/{batch}`: every city of a batch at once.
    pub async fn switch_truck_batch(
        &self,
        caller: &Caller,
        batch: &str,
        request: SwitchRequest,
    ) -> Result<CityList, ServiceError> {
        authorise(caller, Action::SwitchTruckBatch)?;
        let switch = request.switch(self.now())?;
        let number: u8 = batch.parse().map_err(|_| ServiceError::NotFound {
            what: "batch",
            id: batch.into(),
        })?;
        let cities: Vec<CityTruckRules> = self
            .current_truck_rulebook()
            .await?
            .cities
            .iter()
            .filter(|c| c.batch == number)
            .cloned()
            .collect();
        if cities.is_empty() {
            return Err(ServiceError::NotFound {
                what: "batch",
                id: batch.into(),
            });
        }
        for before in cities {
            let after = CityTruckRules {
                go_live_at: switch.go_live_at,
                ..before.clone()
            };
            self.store_rules(caller, &before, after, "go-live", &format!("batch {number}"))
                .await?;
        }
        self.truck_cities().await
    }
}
