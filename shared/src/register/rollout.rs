//! The staged rollout (R2): cities grouped in batches and waves, each switched on at a go-live time.

use crate::kernel::caller::Actor;
use crate::kernel::golive::Availability;
use crate::kernel::versioned::SHIPPED_VERSION;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A wave of cities switched on together (the first batch is one wave; the
/// second batch was switched on in three waves to spread the launch peak).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wave {
    pub id: String,
    pub batch: u8,
    #[serde(default)]
    pub description: String,
    pub go_live_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct City {
    /// Administrative division code, the same as the issuing authority's code.
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub province: String,
    pub batch: u8,
    pub wave: String,
    /// A go-live time for this city alone, overriding its wave's.
    #[serde(default)]
    pub go_live_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub version: u64,
}

impl City {
    /// The time the city opens: its own if set, else its wave's.
    pub fn effective_go_live(&self, wave: Option<&Wave>) -> Option<DateTime<Utc>> {
        self.go_live_at.or_else(|| wave.and_then(|w| w.go_live_at))
    }

    pub fn availability(&self, wave: Option<&Wave>, now: DateTime<Utc>) -> Availability {
        Availability::at(self.effective_go_live(wave), now)
    }
}

/// A switch of a city or wave, kept as the rollout's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutChange {
    /// `city:<code>` or `wave:<id>`.
    pub target: String,
    pub at: DateTime<Utc>,
    pub by: Actor,
    pub go_live_before: Option<DateTime<Utc>>,
    pub go_live_after: Option<DateTime<Utc>>,
}

/// The plan the product ships with: the waves and their cities.
#[derive(Debug, Clone, Deserialize)]
pub struct Plan {
    pub waves: Vec<Wave>,
    pub cities: Vec<City>,
}

impl Plan {
    /// The default plan, embedded from `shared/data/rollout.json`.
    pub fn default_plan() -> Plan {
        // The file is part of the crate and checked by a test, so a parse
        // failure is a build defect; fall back to an empty plan rather than panic.
        serde_json::from_str(include_str!("../../data/rollout.json")).unwrap_or(Plan {
            waves: Vec::new(),
            cities: Vec::new(),
        })
    }

    /// The plan in force: the stored waves and cities (an administrator's switches), and this plan's for those
    /// not stored, at [`SHIPPED_VERSION`]; by id and code, as the records list them. Nothing needs seeding.
    pub fn overlaid_with(&self, stored_waves: Vec<Wave>, stored_cities: Vec<City>) -> Plan {
        let mut waves: BTreeMap<String, Wave> = self
            .waves
            .iter()
            .map(|w| {
                (
                    w.id.clone(),
                    Wave {
                        version: SHIPPED_VERSION,
                        ..w.clone()
                    },
                )
            })
            .collect();
        waves.extend(stored_waves.into_iter().map(|w| (w.id.clone(), w)));
        let mut cities: BTreeMap<String, City> = self
            .cities
            .iter()
            .map(|c| {
                (
                    c.code.clone(),
                    City {
                        version: SHIPPED_VERSION,
                        ..c.clone()
                    },
                )
            })
            .collect();
        cities.extend(stored_cities.into_iter().map(|c| (c.code.clone(), c)));
        Plan {
            waves: waves.into_values().collect(),
            cities: cities.into_values().collect(),
        }
    }

    pub fn city(&self, code: &str) -> Option<&City> {
        self.cities.iter().find(|c| c.code == code)
    }

    pub fn wave(&self, id: &str) -> Option<&Wave> {
        self.waves.iter().find(|w| w.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn default_plan_has_28_first_batch_cities_and_every_city_has_its_wave() {
        let plan = Plan::default_plan();
        assert_eq!(plan.cities.iter().filter(|c| c.batch == 1).count(), 28);
        for city in &plan.cities {
            assert!(plan.waves.iter().any(|w| w.id == city.wave), "{}", city.code);
        }
        let mut codes: Vec<_> = plan.cities.iter().map(|c| &c.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), plan.cities.len());
    }

    #[test]
    fn city_override_beats_wave() {
        let wave = Wave {
            id: "2b".into(),
            batch: 2,
            description: String::new(),
            go_live_at: Some(at("2026-11-27T00:00:00+08:00")),
            version: 1,
        };
        let mut city = Plan::default_plan().cities[0].clone();
        let now = at("2026-11-25T12:00:00+08:00");
        assert_eq!(
            city.availability(Some(&wave), now),
            Availability::Scheduled {
                opens_at: at("2026-11-27T00:00:00+08:00")
            }
        );
        city.go_live_at = Some(at("2026-11-25T08:00:00+08:00"));
        assert!(matches!(city.availability(Some(&wave), now), Availability::Live { .. }));
        city.go_live_at = None;
        assert_eq!(city.availability(None, now), Availability::NotScheduled);
    }
}
