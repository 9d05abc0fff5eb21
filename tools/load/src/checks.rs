//! What must hold after the load, read from the API and from the emulator's table itself: every approved
//! application issued, no licence issued twice, no open-application lock left behind.

use crate::client::Api;
use crate::journeys::Outcome;
use aws_sdk_dynamodb::types::AttributeValue;
use shared::issuance::edl::ElectronicLicence;
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the table could not be read: {0}")]
    Scan(String),
    #[error("an electronic licence item could not be read: {0}")]
    Decode(String),
}

/// What the checks found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Applications by the state the API answers for them now.
    pub states: BTreeMap<String, usize>,
    /// Applications approved but not issued.
    pub approved_unissued: Vec<String>,
    /// Applications with more than one electronic licence.
    pub issued_twice: Vec<String>,
    /// Licences of a finished journey whose open-application lock is still there.
    pub leaked_locks: usize,
    /// Electronic licences in the table, and open-application locks.
    pub licences: usize,
    pub locks: usize,
}

impl Findings {
    pub fn lost_anything(&self) -> bool {
        !self.approved_unissued.is_empty() || !self.issued_twice.is_empty() || self.leaked_locks > 0
    }
}

/// Reads every application of the run through the API (as its holder), then the table's electronic
/// licences and locks.
pub async fn check(
    api: &Api,
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    outcomes: &[Outcome],
) -> Result<Findings, CheckError> {
    let mut findings = Findings::default();
    let mut finished_holders = BTreeSet::new();
    for outcome in outcomes {
        let (Some(id), Some(token)) = (&outcome.application, &outcome.token) else {
            continue;
        };
        let state = match api
            .call(
                "(check) read the application",
                "GET",
                &format!("/applications/{id}"),
                Some(token),
                None,
            )
            .await
        {
            Ok(answer) => answer.body["state"].as_str().unwrap_or("unreadable").to_string(),
            Err(_) => "unreadable".to_string(),
        };
        if state == "approved" {
            findings.approved_unissued.push(id.clone());
        }
        if state == "issued" {
            finished_holders.insert(outcome.journey.licence.clone());
        }
        *findings.states.entry(state).or_default() += 1;
    }
    let mut per_application: HashMap<String, usize> = HashMap::new();
    let mut locked: BTreeSet<String> = BTreeSet::new();
    let mut pages = dynamodb.scan().table_name(table).into_paginator().items().send();
    while let Some(item) = pages.next().await {
        let item = item.map_err(|e| CheckError::Scan(e.to_string()))?;
        let pk = item.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let kind = item
            .get("kind")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        if let Some(number) = pk.strip_prefix("OPENAPP#") {
            findings.locks += 1;
            locked.insert(number.to_string());
        } else if kind == "edl" && pk.starts_with("EDL#") {
            let licence = decode(item)?;
            findings.licences += 1;
            *per_application.entry(licence.application_id).or_default() += 1;
        }
    }
    findings.issued_twice = per_application
        .into_iter()
        .filter(|(_, count)| *count > 1)
        .map(|(id, _)| id)
        .collect();
    findings.leaked_locks = finished_holders.intersection(&locked).count();
    Ok(findings)
}

/// The stored licence, read with the domain's own type (the item's key attributes are fields it does not have).
fn decode(item: HashMap<String, AttributeValue>) -> Result<ElectronicLicence, CheckError> {
    serde_dynamo::aws_sdk_dynamodb_1::from_item(item).map_err(|e| CheckError::Decode(e.to_string()))
}
