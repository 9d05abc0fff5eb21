//! The register and the rollout (R2, R7, R11): licences imported, read and changed by an administrator, and
//! cities and waves switched on.

use super::{authorise, ImportReport, InputError, JsonLinesImport, ServiceError, Services, SwitchRequest};
use crate::applications::portrait;
use crate::kernel::access::Action;
use crate::kernel::caller::{Caller, Role};
use crate::kernel::golive::Availability;
use crate::register::change::{self, ChangeRecord, LicenceChange};
use crate::register::eligibility::{self, Refusal};
use crate::register::licence::{register_photo_key, Licence};
use crate::register::rollout::{City, RolloutChange, Wave};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

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

impl Services {
    /// `POST /admin/licences`: JSON Lines, all validated before anything is written.
    pub async fn import_licences(&self, caller: &Caller, body: &str) -> Result<ImportReport, ServiceError> {
        authorise(caller, Action::ImportLicences)?;
        let import = JsonLinesImport {
            what: "licence",
            max_lines: self.limits.max_import_lines,
            key_field: "number",
        };
        let licences = import.parse(
            body,
            |l: &Licence| l.number.clone(),
            |licence: &mut Licence| {
                licence.states.sort();
                licence.validate()
            },
        )?;
        let licences = self.store_register_photos(body, licences).await?;
        self.register_licences(&licences).await?;
        tracing::info!(by = %caller.id, count = licences.len(), "licences imported");
        Ok(ImportReport {
            imported: licences.len(),
        })
    }

    /// The per-line use case of every register import (this route's JSON Lines, and any import job that writes a
    /// register in chunks): the validated licences written as the register says, then each holder's electronic
    /// licence held or released to match its licence's state flags, as the administrator's change does
    /// (`settle_register_hold`). Writing a line again writes the same content and settles nothing new, so a
    /// chunk replayed after a failure changes nothing more.
    pub async fn register_licences(&self, licences: &[Licence]) -> Result<(), ServiceError> {
        self.records.import_licences(licences).await?;
        // Owned lines: a future that borrows the slice is not `Send` for every lifetime the server's task needs.
        futures::stream::iter(
            licences
                .iter()
                .cloned()
                .map(|licence| async move { self.settle_register_hold(&licence).await }),
        )
        .buffer_unordered(HOLD_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
        Ok(())
    }

    /// R1, R7: the one place a register write decides its electronic licence's hold. A paper licence whose state
    /// flags hold it (detained, seized, announced stopped, cancelled, expired: [`Licence::is_held`]) holds the
    /// holder's active electronic licence (its status list entry suspended), and one whose flags no longer do
    /// releases it (valid again). Compared with the electronic licence's own `registerHold`, not with the
    /// register's previous line, so that it is right whatever wrote the register before and idempotent.
    pub(crate) async fn settle_register_hold(&self, licence: &Licence) -> Result<(), ServiceError> {
        self.hold_electronic_licence(&licence.holder_id, licence.is_held())
            .await
            .map(|_| ())
    }

    /// R3: every photo an import line carries (`photoImage`) is normalised as a portrait and kept in the photo
    /// store, and the line then names it by its SHA-256. All are normalised before any is stored, so a photo
    /// that cannot be used refuses the whole import, as any other invalid line does.
    async fn store_register_photos(
        &self,
        body: &str,
        mut licences: Vec<Licence>,
    ) -> Result<Vec<Licence>, ServiceError> {
        // A parsed import has one licence per non-blank line, in order.
        let line_numbers: Vec<usize> = body
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(index, _)| index + 1)
            .collect();
        // By digest: lines carrying the same image keep one object.
        let mut portraits = std::collections::BTreeMap::new();
        let mut errors = Vec::new();
        for (index, licence) in licences.iter_mut().enumerate() {
            let Some(image) = licence.photo_image.take() else {
                continue;
            };
            let normalised = STANDARD
                .decode(image.trim())
                .map_err(|_| "is not base64".to_string())
                .and_then(|bytes| {
                    portrait::normalise(&bytes, &self.photo_rules).map_err(|e| format!("cannot be used: {e}"))
                });
            match normalised {
                Ok(portrait) => {
                    licence.photo_sha256 = Some(portrait.sha256.clone());
                    portraits.insert(portrait.sha256.clone(), portrait.jpeg);
                }
                Err(message) => errors.push(InputError {
                    line: line_numbers.get(index).copied(),
                    field: "photoImage".into(),
                    message,
                }),
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid {
                detail: "A photo in the import cannot be used; nothing was imported.".into(),
                errors,
            });
        }
        if !portraits.is_empty() {
            let store = self.photo_store()?;
            for (sha256, jpeg) in &portraits {
                store
                    .put_portrait(&register_photo_key(sha256), jpeg)
                    .await
                    .map_err(super::photos::photo_store_error)?;
            }
        }
        Ok(licences)
    }

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
        let waves = self.records.waves().await?;
        let cities = self
            .records
            .cities()
            .await?
            .into_iter()
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
        let mut city = self.records.city(code).await?.ok_or_else(|| ServiceError::NotFound {
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
        self.records.switch_city(&city, expected, &change).await?;
        tracing::info!(city = %code, by = %caller.id, "city switched");
        let wave = self.records.wave(&city.wave).await?;
        Ok(CityView {
            availability: city.availability(wave.as_ref(), self.now()),
            city,
        })
    }

    /// R2: switch a whole wave on (at a time), or off with null.
    pub async fn switch_wave(&self, caller: &Caller, id: &str, request: SwitchRequest) -> Result<Wave, ServiceError> {
        authorise(caller, Action::SwitchWave)?;
        let switch = request.switch(self.now())?;
        let mut wave = self.records.wave(id).await?.ok_or_else(|| ServiceError::NotFound {
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
        self.records.switch_wave(&wave, expected, &change).await?;
        tracing::info!(wave = %id, by = %caller.id, "wave switched");
        Ok(wave)
    }
}
