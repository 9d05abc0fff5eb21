//! The register and the rollout (R2, R7, R11): licences imported, read and changed by an administrator, and
//! cities and waves switched on.

use super::{
    authorise, Administering, ImportReport, InputError, JsonLinesImport, ServiceError, Services, SwitchRequest,
};
use crate::applications::portrait;
use crate::applications::ports::PhotoStore;
use crate::kernel::access::Action;
use crate::kernel::caller::{Caller, Role};
use crate::kernel::golive::Availability;
use crate::kernel::input::ParsedLines;
use crate::register::change::{self, ChangeRecord, LicenceChange};
use crate::register::eligibility::{self, Refusal};
use crate::register::licence::{register_photo_key, Licence};
use crate::register::rollout::{City, RolloutChange, Wave};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Holds settled at once by an import (each a read or two, and a write when it changes).
const HOLD_CONCURRENCY: usize = 16;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenceView {
    pub licence: Licence,
    /// Every reason it cannot have an electronic licence today; empty when it can.
    pub refusals: Vec<Refusal>,
    pub changes: Vec<ChangeRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supersedes_electronic_licence: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CityView {
    #[serde(flatten)]
    pub city: City,
    pub availability: Availability,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutView {
    pub at: DateTime<Utc>,
    pub waves: Vec<Wave>,
    pub cities: Vec<CityView>,
    pub changes: Vec<RolloutChange>,
}

impl Administering {
    /// `POST /admin/licences`: JSON Lines, all validated before anything is written.
    pub async fn import_licences(&self, caller: &Caller, body: &str) -> Result<ImportReport, ServiceError> {
        authorise(caller, Action::ImportLicences)?;
        let lines = body.lines().filter(|line| !line.trim().is_empty()).count();
        if lines > self.limits.max_import_lines {
            return Err(ServiceError::invalid(format!(
                "An import holds at most {} licences; split the file, or import it as a job (POST /admin/imports).",
                self.limits.max_import_lines
            )));
        }
        let parsed = parse_register_lines(body, 1);
        if !parsed.errors.is_empty() {
            let refused = parsed.refused_lines();
            let mut errors = parsed.errors;
            errors.truncate(100);
            return Err(ServiceError::Invalid {
                detail: format!("{refused} line(s) are not valid licence records; nothing was imported."),
                errors,
            });
        }
        if parsed.records.is_empty() {
            return Err(ServiceError::invalid("The import holds no licence records."));
        }
        let (licences, errors, portraits) = prepare_register_photos(parsed.records, &self.photo_rules);
        if !errors.is_empty() {
            return Err(ServiceError::Invalid {
                detail: "A photo in the import cannot be used; nothing was imported.".into(),
                errors,
            });
        }
        let count = licences.len();
        self.write_register_lines(&*self.photos, licences, &portraits).await?;
        tracing::info!(by = %caller.id, count, "licences imported");
        Ok(ImportReport { imported: count })
    }
}

impl Services {
    /// The register's lines, each a whole licence as the authority states it (photos already normalised into
    /// `portraits`), into the records: the portraits first, then every licence that differs from the stored one
    /// with its version one up. A line identical to the stored licence writes nothing, so a replayed import
    /// changes no version. Both the synchronous import and the import job's chunks go through here, each with
    /// its function's photo store.
    pub(crate) async fn write_register_lines(
        &self,
        photos: &dyn PhotoStore,
        licences: Vec<(usize, Licence)>,
        portraits: &BTreeMap<String, Vec<u8>>,
    ) -> Result<RegisterWrite, ServiceError> {
        if !portraits.is_empty() {
            for (sha256, jpeg) in portraits {
                photos
                    .put_portrait(&register_photo_key(sha256), jpeg)
                    .await
                    .map_err(super::photos::photo_store_error)?;
            }
        }
        let numbers: Vec<String> = licences.iter().map(|(_, l)| l.number.clone()).collect();
        let stored: HashMap<String, Licence> = self
            .records
            .licences(&numbers)
            .await?
            .into_iter()
            .map(|l| (l.number.clone(), l))
            .collect();
        let mut changed = Vec::new();
        let (mut unchanged, mut unchanged_lines) = (0, Vec::new());
        for (_, mut licence) in licences {
            licence.photo_image = None;
            match stored.get(&licence.number) {
                Some(current) if same_record(current, &licence) => {
                    unchanged += 1;
                    unchanged_lines.push(licence);
                }
                current => {
                    licence.version = current.map_or(0, |c| c.version) + 1;
                    changed.push(licence);
                }
            }
        }
        self.records.put_licences(&changed).await?;
        // Every line, changed or not: a replayed chunk whose licences were written before a failure still settles
        // their holds. Owned lines: a future that borrows them is not `Send` for every lifetime a server task needs.
        let holds: Vec<Licence> = changed.iter().cloned().chain(unchanged_lines).collect();
        futures::stream::iter(
            holds
                .into_iter()
                .map(|licence| async move { self.settle_register_hold(&licence).await }),
        )
        .buffer_unordered(HOLD_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
        Ok(RegisterWrite {
            written: changed.len(),
            unchanged,
        })
    }
}

impl Services {
    /// R1, R7: the one place a register write decides its electronic licence's hold (the import's lines, the
    /// import job's chunks and the administrator's change all call it). A paper licence whose state flags hold it
    /// (detained, seized, announced stopped, cancelled, expired: [`Licence::is_held`]) holds the holder's active
    /// electronic licence (its status list entry suspended), and one whose flags no longer do releases it (valid
    /// again). Compared with the electronic licence's own `registerHold`, not with the register's previous line,
    /// so that it is right whatever wrote the register before, and idempotent.
    pub(crate) async fn settle_register_hold(&self, licence: &Licence) -> Result<(), ServiceError> {
        self.hold_electronic_licence(&licence.holder_id, licence.is_held())
            .await
            .map(|_| ())
    }
}

impl Administering {
    pub async fn licence_for_admin(&self, caller: &Caller, number: &str) -> Result<LicenceView, ServiceError> {
        authorise(caller, Action::ReadRegister)?;
        let licence = self
            .records
            .licence(number)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: "licence",
                id: number.into(),
            })?;
        let changes = self.records.licence_changes(number).await?;
        Ok(LicenceView {
            refusals: eligibility::refusals(&licence, self.today()),
            licence,
            changes,
            supersedes_electronic_licence: None,
        })
    }

    /// `PATCH /admin/licences/{number}`: points, states, renewal (R7, R11).
    pub async fn change_licence(
        &self,
        caller: &Caller,
        number: &str,
        request: LicenceChange,
    ) -> Result<LicenceView, ServiceError> {
        authorise(caller, Action::ChangeLicence)?;
        let licence = self
            .records
            .licence(number)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: "licence",
                id: number.into(),
            })?;
        if let Some(expected) = request.expected_version {
            if expected != licence.version {
                return Err(ServiceError::Conflict);
            }
        }
        let (mut next, changed) = change::apply(&licence, &request).map_err(|errors| ServiceError::Invalid {
            detail: "The change is not valid; nothing was changed.".into(),
            errors: errors.into_iter().map(InputError::from).collect(),
        })?;
        if changed.is_empty() {
            return Err(ServiceError::invalid(
                "The change names nothing that differs from the register.",
            ));
        }
        next.version = licence.version + 1;
        let supersedes = change::supersedes_electronic_licence(&changed);
        let record = ChangeRecord {
            licence_number: number.into(),
            at: self.now(),
            by: caller.actor(Role::Admin),
            reason: request.reason.trim().to_string(),
            changed,
            supersedes_electronic_licence: supersedes,
            version: next.version,
        };
        self.records.change_licence(&next, licence.version, &record).await?;
        // Not the licence number: it is the holder's identity number, and the change record keeps it.
        tracing::info!(by = %caller.id, version = next.version, fields = ?record.changed, "licence changed");
        if supersedes {
            self.supersede_electronic_licence(&next.holder_id, &record.reason)
                .await?;
        } else {
            // Detained, seized, announced stopped, cancelled or expired, or the flag lifted: offline verifiers see
            // it through the status list (suspended, or valid again).
            self.settle_register_hold(&next).await?;
        }
        let changes = self.records.licence_changes(number).await?;
        Ok(LicenceView {
            refusals: eligibility::refusals(&next, self.today()),
            licence: next,
            changes,
            supersedes_electronic_licence: Some(supersedes),
        })
    }

    pub async fn rollout(&self, caller: &Caller) -> Result<RolloutView, ServiceError> {
        authorise(caller, Action::ReadRollout)?;
        let now = self.now();
        // The administrator sees the plan as stored now, not as this instance last read it.
        let plan = self.current_rollout_plan().await?;
        let waves = plan.waves.clone();
        let cities = plan
            .cities
            .iter()
            .cloned()
            .map(|city| {
                let wave = waves.iter().find(|w| w.id == city.wave);
                CityView {
                    availability: city.availability(wave, now),
                    city,
                }
            })
            .collect();
        Ok(RolloutView {
            at: now,
            waves,
            cities,
            changes: self.records.rollout_changes().await?,
        })
    }

    /// R2: switch one city on (at a time), or off with null.
    pub async fn switch_city(
        &self,
        caller: &Caller,
        code: &str,
        request: SwitchRequest,
    ) -> Result<CityView, ServiceError> {
        authorise(caller, Action::SwitchCity)?;
        let switch = request.switch(self.now())?;
        let plan = self.current_rollout_plan().await?;
        let mut city = plan.city(code).cloned().ok_or_else(|| ServiceError::NotFound {
            what: "city",
            id: code.into(),
        })?;
        let change = RolloutChange {
            target: format!("city:{code}"),
            at: self.now(),
            by: caller.actor(Role::Admin),
            go_live_before: city.go_live_at,
            go_live_after: switch.go_live_at,
        };
        let expected = city.version;
        city.go_live_at = switch.go_live_at;
        city.version = expected + 1;
        let stored = self.records.switch_city(&city, expected, &change).await;
        // Written or not, this instance reads the plan again: its next request sees the switch at once.
        self.caches.rollout.forget();
        stored?;
        tracing::info!(city = %code, by = %caller.id, "city switched");
        Ok(CityView {
            availability: city.availability(plan.wave(&city.wave), self.now()),
            city,
        })
    }

    /// R2: switch a whole wave on (at a time), or off with null.
    pub async fn switch_wave(&self, caller: &Caller, id: &str, request: SwitchRequest) -> Result<Wave, ServiceError> {
        authorise(caller, Action::SwitchWave)?;
        let switch = request.switch(self.now())?;
        let plan = self.current_rollout_plan().await?;
        let mut wave = plan.wave(id).cloned().ok_or_else(|| ServiceError::NotFound {
            what: "wave",
            id: id.into(),
        })?;
        let change = RolloutChange {
            target: format!("wave:{id}"),
            at: self.now(),
            by: caller.actor(Role::Admin),
            go_live_before: wave.go_live_at,
            go_live_after: switch.go_live_at,
        };
        let expected = wave.version;
        wave.go_live_at = switch.go_live_at;
        wave.version = expected + 1;
        let stored = self.records.switch_wave(&wave, expected, &change).await;
        self.caches.rollout.forget();
        stored?;
        tracing::info!(wave = %id, by = %caller.id, "wave switched");
        Ok(wave)
    }
}

/// What writing register lines did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RegisterWrite {
    pub written: usize,
    pub unchanged: usize,
}

/// Whether two licences state the same (the version is the store's, not the register's).
fn same_record(stored: &Licence, line: &Licence) -> bool {
    Licence {
        version: 0,
        photo_image: None,
        ..stored.clone()
    } == Licence {
        version: 0,
        photo_image: None,
        ..line.clone()
    }
}

/// Licence lines of a register file, numbered from `first_line`, each checked as the register requires.
pub(crate) fn parse_register_lines(body: &str, first_line: usize) -> ParsedLines<Licence> {
    JsonLinesImport {
        what: "licence",
        max_lines: usize::MAX,
        key_field: "number",
    }
    .parse_lines(
        body,
        first_line,
        |l: &Licence| l.number.clone(),
        |licence: &mut Licence| {
            licence.states.sort();
            licence.validate()
        },
    )
}

/// R3: every photo a line carries (`photoImage`) is normalised as a portrait, and the line then names it by its
/// SHA-256. A line whose photo cannot be used is refused (listed by number) and left out; the portraits to keep
/// are returned by digest, so lines carrying the same image keep one object.
#[allow(clippy::type_complexity)]
pub(crate) fn prepare_register_photos(
    lines: Vec<(usize, Licence)>,
    rules: &crate::applications::photo::PhotoRules,
) -> (Vec<(usize, Licence)>, Vec<InputError>, BTreeMap<String, Vec<u8>>) {
    let mut portraits = BTreeMap::new();
    let mut errors = Vec::new();
    let mut kept = Vec::with_capacity(lines.len());
    for (line, mut licence) in lines {
        let Some(image) = licence.photo_image.take() else {
            kept.push((line, licence));
            continue;
        };
        let normalised = STANDARD
            .decode(image.trim())
            .map_err(|_| "is not base64".to_string())
            .and_then(|bytes| portrait::normalise(&bytes, rules).map_err(|e| format!("cannot be used: {e}")));
        match normalised {
            Ok(portrait) => {
                licence.photo_sha256 = Some(portrait.sha256.clone());
                portraits.insert(portrait.sha256.clone(), portrait.jpeg);
                kept.push((line, licence));
            }
            Err(message) => errors.push(InputError {
                line: Some(line),
                field: "photoImage".into(),
                message,
            }),
        }
    }
    (kept, errors, portraits)
}
