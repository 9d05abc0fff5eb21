//! Two lives on both adapters (issue 12): licences issued over a month live three simulated years through
//! daily document refreshes within the signing budget and routine signer rotations, never applied for again;
//! a refresh racing a stop keeps the stop; a failing signer leaves documents in place; no usable signer is a 503.

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use edl_tests::{harness, holder, json_request, officer, request, Adapter, Harness};
use serde_json::json;
use shared::adapters::Records;
use shared::crypto::LocalSigner;
use shared::issuance::budget::SigningBudget;
use shared::issuance::document::{DOCUMENT_DAYS, JITTER_DAYS, SIGNER_MARGIN_DAYS};
use shared::issuance::edl::EdlStatus;
use shared::kernel::caller::{Actor, Role};
use shared::kernel::signing::{Signer, SignerError};
use shared::kernel::time::local_date;
use shared::service::issuance::IssueOutcome;
use shared::service::keys::Authority;
use shared::service::refresh::{RefreshCause, RefreshOptions, RefreshOutcome};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A signer that counts what it signs and fails while told to (an injected KMS outage).
struct CountingSigner {
    inner: Arc<dyn Signer>,
    signed: AtomicUsize,
    failing: AtomicBool,
}

#[async_trait]
impl Signer for CountingSigner {
    async fn sign_digest(&self, key_id: &str, digest: &[u8; 32]) -> Result<[u8; 64], SignerError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(SignerError::Unavailable("injected: KMS is not answering".into()));
        }
        self.signed.fetch_add(1, Ordering::SeqCst);
        self.inner.sign_digest(key_id, digest).await
    }
    async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, SignerError> {
        self.inner.public_key(key_id).await
    }
}

/// Where the next signing key is made: in process, or in KMS on the emulator (as the operator
/// makes one in AWS before `edl-local keys add-signer`).
enum Keys {
    Local(Arc<LocalSigner>),
    Kms(Box<aws_config::SdkConfig>),
}

impl Keys {
    async fn new_key(&self, name: &str) -> String {
        match self {
            Keys::Local(signer) => {
                signer.generate(name);
                name.to_string()
            }
            Keys::Kms(config) => shared::adapters::kms::create_signing_key(config, name)
                .await
                .expect("KMS key on the emulator"),
        }
    }
}

/// One adapter's set-up: its harness, signer and key maker, how many licences it issues and the
/// scheduled jobs' signing budget per (simulated) day.
struct Fixture {
    h: Harness,
    keys: Keys,
    signer: Arc<CountingSigner>,
    licences: usize,
    budget: SigningBudget,
    /// Licences verified end to end each week (a different few each week).
    sample_per_week: usize,
    /// Whether every licence's record is read every week (in process), or only the sample's (on the emulator, where
    /// each read is a request; every licence is read once more at the end).
    read_all_weekly: bool,
}

/// The records of one adapter, and which it is: the embedded records with in-process keys, or DynamoDB with
/// KMS on the emulator.
type OnAdapter = (Arc<dyn Records>, Adapter);

/// Status lists in these tests: few (the job reads every list each run), each of the deployed size.
const LISTS: u32 = 2;

async fn fixture((records, adapter): OnAdapter, licences: usize, budget: SigningBudget) -> Fixture {
    // Three sample licences per wanted licence: some are not eligible, not live, or without a photo on file.
    let mut h = harness(records, licences * 3).await;
    h.services.status_lists.lists = LISTS;
    h.services.signing_budget = budget.clone();
    let (keys, inner): (Keys, Arc<dyn Signer>) = match adapter {
        Adapter::Aws => {
            let config = edl_tests::aws_config().await;
            (
                Keys::Kms(Box::new(config.clone())),
                Arc::new(shared::adapters::kms::KmsSigner::new(&config)),
            )
        }
        Adapter::Embedded => {
            let local = Arc::new(LocalSigner::new());
            (Keys::Local(local.clone()), local)
        }
    };
    let signer = Arc::new(CountingSigner {
        inner,
        signed: AtomicUsize::new(0),
        failing: AtomicBool::new(false),
    });
    h.ports.signer = signer.clone();
    let iaca = keys.new_key("iaca").await;
    let ds = keys.new_key("ds-1").await;
    h.signing()
        .install_iaca(&Authority::default(), &iaca)
        .await
        .expect("IACA");
    h.signing()
        .add_document_signer(&Authority::default(), &ds)
        .await
        .expect("document signer");
    Fixture {
        h,
        keys,
        signer,
        licences,
        budget,
        sample_per_week: if adapter == Adapter::Embedded { 6 } else { 3 },
        read_all_weekly: adapter == Adapter::Embedded,
    }
}

fn set(h: &Harness, at: DateTime<Utc>) {
    h.clock.set(&at.to_rfc3339());
}

/// An officer's answer for a presented credential: (valid, reason).
async fn verify(h: &Harness, body: serde_json::Value) -> (bool, String) {
    let answer = h.call(json_request("POST /verifications", &[], officer(), &body)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    (
        answer.body["valid"].as_bool().expect("valid"),
        answer.body["reason"].as_str().unwrap_or("").to_string(),
    )
}

struct Issued {
    holder: String,
    serial: String,
    valid_to: NaiveDate,
}

async fn three_years_without_applying_again(fx: Fixture) {
    // An hour after the keys were made (the harness's time), so that their certificates are valid.
    let start: DateTime<Utc> = edl_tests::at("2026-11-25T11:00:00+08:00");
    let candidates = shared::sample::generate(fx.licences * 3, 2026);
    let mut candidates = candidates.iter();
    let mut issued: Vec<Issued> = Vec::new();
    // Simulated days: unpaced (the pace is for KMS's real seconds).
    let options = RefreshOptions {
        signs_per_second: None,
        ..RefreshOptions::default()
    };
    let budget = fx.budget.clone();
    let refresh_part = budget.refresh_part(LISTS) as usize;
    // The scheduled jobs' runs, evenly spaced from local midnight as the deployed schedules are (the refresh at a
    // quarter to each slot), the status list job every `status_every`-th refresh slot.
    let runs = i64::from(budget.refresh_runs_per_day);
    let status_every = (budget.refresh_runs_per_day / budget.status_list_runs_per_day.max(1)).max(1);
    let (mut budget_days, mut rotations, mut max_signs, mut refreshed) = (0, 0, 0, 0);
    let (mut checked_valid, mut checked_expired, mut spread_days) = (0, 0, 0);
    let last_day: i64 = 3 * 365 + 30;
    let first_day = local_date(start);
    for day in 0..=last_day {
        let nth = usize::try_from(day).expect("day");
        // Issuance over the first month: half on launch day, the rest spread over the month.
        let today_target = match day {
            0 => fx.licences / 2,
            1..=29 => fx.licences / 2 / 29 + usize::from(nth <= (fx.licences / 2) % 29),
            _ => 0,
        };
        let midnight = shared::kernel::time::local_instant(first_day + Duration::days(day), chrono::NaiveTime::MIN);
        let issue_at = start + Duration::days(day);
        let mut issued_today = false;
        // Every signature of the day's scheduled runs, counted at the signer port.
        let (mut day_signs, mut day_refresh_signs, mut runs_that_signed) = (0usize, 0usize, 0usize);
        for slot in 0..runs {
            let run_at = midnight + Duration::minutes(slot * 24 * 60 / runs + 45);
            if run_at < start {
                continue; // Before the keys were made, on the first day.
            }
            if !issued_today && run_at >= issue_at {
                issued_today = true;
                set(&fx.h, issue_at);
                let mut made = 0;
                while made < today_target {
                    let Some(candidate) = candidates.next() else { break };
                    if let Some(serial) = edl_tests::apply_and_issue(&fx.h, &candidate.holder_id).await {
                        issued.push(Issued {
                            holder: candidate.holder_id.clone(),
                            serial,
                            valid_to: candidate.valid_to,
                        });
                        made += 1;
                    }
                }
            }
            set(&fx.h, run_at);
            let before = fx.signer.signed.load(Ordering::SeqCst);
            let report =
                fx.h.refreshing()
                    .run_refresh(None, &options)
                    .await
                    .expect("refresh run");
            let signs = fx.signer.signed.load(Ordering::SeqCst) - before;
            assert_eq!(signs, report.signs, "day {day}: every signature is the job's own");
            assert!(
                signs as u64 <= report.allowance,
                "day {day} slot {slot}: {signs} signs over the run's allowance: {report:?}"
            );
            assert!(report.signer_unavailable.is_none(), "day {day}: {report:?}");
            day_refresh_signs += signs;
            day_signs += signs;
            runs_that_signed += usize::from(signs > 0);
            refreshed += report.refreshed;
            if u32::try_from(slot).expect("slot") % status_every == 0 {
                set(&fx.h, run_at + Duration::minutes(5));
                let before = fx.signer.signed.load(Ordering::SeqCst);
                let lists = fx.h.signing().run_status_lists().await.expect("status list run");
                let signs = fx.signer.signed.load(Ordering::SeqCst) - before;
                assert_eq!(signs as u32, lists.signs, "day {day}: {lists:?}");
                assert!(
                    lists.signer_unavailable.is_none() && !lists.budget_reached,
                    "day {day}: {lists:?}"
                );
                assert_eq!(lists.reconcile_failed, 0, "day {day}: {lists:?}");
                day_signs += signs;
            }
        }
        assert!(
            day_signs as u64 <= budget.signs_per_day,
            "day {day}: {day_signs} scheduled signs over the day's budget of {}",
            budget.signs_per_day
        );
        assert!(
            day_refresh_signs <= refresh_part,
            "day {day}: {day_refresh_signs} refresh signs"
        );
        max_signs = max_signs.max(day_signs);
        budget_days += usize::from(day_refresh_signs == refresh_part);
        // A day that spent its refresh part spread it over several runs, not the first one.
        if day_refresh_signs == refresh_part && refresh_part > 1 {
            assert!(runs_that_signed > 1, "day {day}: the budget went in one run");
            spread_days += 1;
        }
        set(&fx.h, midnight + Duration::days(1) - Duration::minutes(5));
        if day % 7 != 0 {
            continue;
        }
        // Weekly: the expiry job (it reads a week of ended days), the key check, and the operator's
        // runbook: when the alarm would fire, add the next signer and retire the one it replaces.
        fx.h.services
            .run_expiry(None, &Default::default())
            .await
            .expect("expiry run");
        let health = fx.h.refreshing().check_keys().await.expect("key check");
        if health.days_until_no_usable_signer < 45 {
            rotations += 1;
            let previous: Vec<String> =
                fx.h.services
                    .records
                    .trust()
                    .await
                    .expect("trust")
                    .into_iter()
                    .filter(|t| t.role == shared::verification::ports::TrustRole::DocumentSigner)
                    .filter(|t| t.status == shared::verification::ports::TrustStatus::Active)
                    .map(|t| t.kid)
                    .collect();
            let key = fx.keys.new_key(&format!("ds-{}", rotations + 1)).await;
            fx.h.signing()
                .add_document_signer(&Authority::default(), &key)
                .await
                .expect("next signer");
            for kid in previous {
                fx.h.services.retire_document_signer(&kid).await.expect("retired");
            }
            let health = fx.h.refreshing().check_keys().await.expect("key check");
            assert!(health.days_until_no_usable_signer > 300, "{health:?}");
        }
        // Every licence (or the week's sample): never applied for again, and a current document while the
        // paper licence is valid; the sample verified end to end, by show code and by mdoc.
        let now = fx.h.services.now();
        let today = local_date(now);
        let issued_count = issued.len().max(1);
        for (index, licence) in issued.iter().enumerate() {
            let sampled = (index + nth / 7 * fx.sample_per_week) % issued_count < fx.sample_per_week;
            if !sampled && !fx.read_all_weekly {
                continue;
            }
            let paper_valid = today <= licence.valid_to;
            let edl = still_the_same_licence(&fx.h, licence, paper_valid, day).await;
            if !sampled {
                continue;
            }
            let by_mdoc = verify(&fx.h, json!({ "mdoc": edl.issuer_signed })).await;
            let code =
                fx.h.call(request("GET /licence/code", &[], holder(&licence.holder), None, None))
                    .await;
            if paper_valid {
                assert_eq!(code.status, 200, "{code:?}");
                let by_code = verify(&fx.h, json!({ "code": code.body["code"] })).await;
                assert_eq!(by_code, (true, String::new()), "day {day}: {} by code", licence.serial);
                assert_eq!(by_mdoc, (true, String::new()), "day {day}: {} by mdoc", licence.serial);
                checked_valid += 1;
            } else {
                let by_code = if code.status == 200 {
                    verify(&fx.h, json!({ "code": code.body["code"] })).await
                } else {
                    assert_eq!((code.status, code.problem()), (409, "licence-not-active"), "{code:?}");
                    let barcode = shared::credential::barcode::with_check_character(&licence.serial).expect("barcode");
                    verify(&fx.h, json!({ "barcode": barcode })).await
                };
                assert_eq!(
                    by_code,
                    (false, "licence-expired".to_string()),
                    "day {day}: {}",
                    licence.serial
                );
                assert_eq!(
                    by_mdoc,
                    (false, "licence-expired".to_string()),
                    "day {day}: {}",
                    licence.serial
                );
                checked_expired += 1;
            }
        }
    }
    assert!(
        issued.len() >= fx.licences * 9 / 10,
        "issued {} of {}",
        issued.len(),
        fx.licences
    );
    assert!(rotations >= 2, "three years take rotations: {rotations}");
    assert!(
        checked_valid > 0 && checked_expired > 0,
        "{checked_valid} valid, {checked_expired} ended checked"
    );
    assert!(
        budget_days > 0 && spread_days == budget_days,
        "the launch peak meets the budget ({budget:?}), spread over the day's runs"
    );
    assert!(max_signs as u64 <= budget.signs_per_day);
    // Documents of a month: a licence's document is signed about every 16 days.
    let per_licence_year = refreshed as f64 / issued.len() as f64 / 3.0;
    assert!(per_licence_year > 10.0 && per_licence_year < 30.0, "{per_licence_year}");
    println!(
        "{} licences, {refreshed} refreshes ({per_licence_year:.1} per licence-year), {rotations} rotations, \
         the refresh budget spent on {budget_days} days, at most {max_signs} scheduled signs a day",
        issued.len()
    );
}

/// The licence as stored: still the holder's licence (never applied for again) and, while its paper licence is
/// valid, active with a document that has not ended.
async fn still_the_same_licence(
    h: &Harness,
    licence: &Issued,
    paper_valid: bool,
    day: i64,
) -> shared::issuance::edl::ElectronicLicence {
    let now = h.services.now();
    let serial = h
        .services
        .records
        .current_serial_of(&licence.holder)
        .await
        .expect("pointer");
    assert_eq!(
        serial.as_deref(),
        Some(licence.serial.as_str()),
        "{} applied again",
        licence.holder
    );
    let edl = h
        .services
        .records
        .electronic_licence(&licence.serial)
        .await
        .expect("read")
        .expect("licence");
    // Every refresh re-signed the portrait: the record tells where it lies in the document it holds now.
    edl_tests::assert_portrait_span_fits(&edl);
    if paper_valid {
        assert_eq!(edl.status, EdlStatus::Active, "day {day}: {}", licence.serial);
        assert!(
            edl.document_valid_until > now,
            "day {day}: {} holds a document that ended {}",
            licence.serial,
            edl.document_valid_until
        );
    }
    edl
}

/// One licence issued at the harness's time; the fixture and its serial.
async fn one_licence(fx: &Fixture) -> (String, String) {
    let candidates = shared::sample::generate(fx.licences * 3, 2026);
    for candidate in &candidates {
        if let Some(serial) = edl_tests::apply_and_issue(&fx.h, &candidate.holder_id).await {
            return (candidate.holder_id.clone(), serial);
        }
    }
    panic!("no sample holder could apply");
}

/// A signer that stops (or supersedes) the licence while it signs: the concurrent change lands
/// between the refresh's read and its write.
struct RacingSigner {
    inner: Arc<CountingSigner>,
    records: Arc<dyn Records>,
    serial: String,
    stop: bool,
}

#[async_trait]
impl Signer for RacingSigner {
    async fn sign_digest(&self, key_id: &str, digest: &[u8; 32]) -> Result<[u8; 64], SignerError> {
        if let Ok(Some(mut edl)) = self.records.electronic_licence(&self.serial).await {
            if edl.is_active() {
                let expected = edl.version;
                edl.status = if self.stop {
                    EdlStatus::Stopped {
                        at: Utc::now(),
                        reason: "malicious upload".into(),
                        by: Actor {
                            id: "reviewer-0001".into(),
                            role: Role::Reviewer,
                        },
                    }
                } else {
                    EdlStatus::Superseded {
                        at: Utc::now(),
                        reason: "re-issued".into(),
                        by_serial: Some("11000026122500000001".into()),
                    }
                };
                edl.version += 1;
                self.records
                    .update_electronic_licence(&edl, expected)
                    .await
                    .expect("the concurrent change");
            }
        }
        self.inner.sign_digest(key_id, digest).await
    }
    async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, SignerError> {
        self.inner.public_key(key_id).await
    }
}

async fn a_refresh_racing_a_stop_or_supersession_keeps_it(fx: Fixture) {
    for stop in [true, false] {
        set(&fx.h, edl_tests::at("2026-11-25T10:00:00+08:00"));
        let (_, serial) = one_licence(&fx).await;
        let before =
            fx.h.services
                .records
                .electronic_licence(&serial)
                .await
                .expect("read")
                .expect("licence");
        let services = shared::service::Signing::new(
            fx.h.services.clone(),
            Arc::new(RacingSigner {
                inner: fx.signer.clone(),
                records: fx.h.services.records.clone(),
                serial: serial.clone(),
                stop,
            }),
        );
        set(&fx.h, before.document_valid_until - Duration::days(5));
        let (outcome, signs) = services
            .refresh_document(&serial, RefreshCause::Schedule)
            .await
            .expect("refresh");
        assert_eq!(signs, 1);
        let after =
            fx.h.services
                .records
                .electronic_licence(&serial)
                .await
                .expect("read")
                .expect("licence");
        assert!(matches!(outcome, RefreshOutcome::Unchanged(Some(_))), "{outcome:?}");
        match (&after.status, stop) {
            (EdlStatus::Stopped { .. }, true) | (EdlStatus::Superseded { .. }, false) => {}
            other => panic!("the concurrent change was lost: {other:?}"),
        }
        // Exactly the concurrent change: the old document, validity and version + 1.
        assert_eq!(after.issuer_signed, before.issuer_signed);
        assert_eq!(after.document_valid_until, before.document_valid_until);
        assert_eq!(after.version, before.version + 1);
        // An ended licence is out of the refresh index: the job finds nothing to sign for it.
        let report =
            fx.h.refreshing()
                .run_refresh(None, &RefreshOptions::default())
                .await
                .expect("run");
        assert_eq!(report.refreshed, 0, "{report:?}");
        // Next holder for the second round.
        let fresh =
            fx.h.services
                .records
                .electronic_licence(&serial)
                .await
                .expect("read")
                .expect("licence");
        assert_eq!(fresh, after);
    }
}

async fn a_failing_signer_leaves_the_document_in_place(fx: Fixture) {
    let (holder_id, serial) = one_licence(&fx).await;
    let read = || async {
        fx.h.services
            .records
            .electronic_licence(&serial)
            .await
            .expect("read")
            .expect("licence")
    };
    let before = read().await;
    // The day after it came due for the scheduled refresh, and KMS fails: the run stops, nothing is written.
    set(&fx.h, before.document_valid_until - Duration::days(9));
    fx.signer.failing.store(true, Ordering::SeqCst);
    let report =
        fx.h.refreshing()
            .run_refresh(None, &RefreshOptions::default())
            .await
            .expect("run");
    assert_eq!(report.refreshed, 0, "{report:?}");
    assert!(
        report
            .signer_unavailable
            .as_deref()
            .is_some_and(|w| w.contains("injected")),
        "{report:?}"
    );
    assert!(!report.complete);
    assert_eq!(read().await, before, "nothing written");
    // KMS is back the next day: the next run finds it in its look-back and re-signs the same licence.
    set(&fx.h, before.document_valid_until - Duration::days(8));
    fx.signer.failing.store(false, Ordering::SeqCst);
    let report =
        fx.h.refreshing()
            .run_refresh(None, &RefreshOptions::default())
            .await
            .expect("run");
    assert_eq!((report.refreshed, report.signs), (1, 1), "{report:?}");
    let refreshed = read().await;
    assert_eq!(
        (
            refreshed.serial.as_str(),
            refreshed.issued_at,
            refreshed.valid_until,
            refreshed.refreshes
        ),
        (serial.as_str(), before.issued_at, before.valid_until, 1)
    );
    assert_eq!(
        (&refreshed.holder_id, &refreshed.application_id),
        (&before.holder_id, &before.application_id)
    );
    assert!(refreshed.document_valid_until >= fx.h.services.now() + Duration::days(DOCUMENT_DAYS - JITTER_DAYS));
    assert_ne!(
        refreshed.issuer_signed, before.issuer_signed,
        "a new signature and new salts"
    );
    assert_eq!(
        verify(&fx.h, json!({ "mdoc": refreshed.issuer_signed })).await,
        (true, String::new())
    );
    // KMS fails again. Inside the show window, GET /licence hands out the current document while it is valid.
    fx.signer.failing.store(true, Ordering::SeqCst);
    set(&fx.h, refreshed.document_valid_until - Duration::days(1));
    let shown =
        fx.h.call(request("GET /licence", &[], holder(&holder_id), None, None))
            .await;
    assert_eq!(shown.status, 200, "{shown:?}");
    assert_eq!(shown.body["document"], refreshed.issuer_signed.as_str());
    // Past its end the document is refused with its own reason, and GET /licence is a 503 problem.
    set(&fx.h, refreshed.document_valid_until + Duration::hours(1));
    let by_mdoc = verify(&fx.h, json!({ "mdoc": refreshed.issuer_signed })).await;
    assert_eq!(by_mdoc, (false, "document-expired".to_string()));
    let shown =
        fx.h.call(request("GET /licence", &[], holder(&holder_id), None, None))
            .await;
    assert_eq!((shown.status, shown.problem()), (503, "unavailable"), "{shown:?}");
    assert_eq!(read().await, refreshed, "nothing written");
    // KMS is back: the holder's next GET /licence hands out a fresh document of the same licence.
    fx.signer.failing.store(false, Ordering::SeqCst);
    let shown =
        fx.h.call(request("GET /licence", &[], holder(&holder_id), None, None))
            .await;
    assert_eq!(shown.status, 200, "{shown:?}");
    let fresh = read().await;
    assert_eq!((fresh.serial.as_str(), fresh.refreshes), (serial.as_str(), 2));
    assert_eq!(shown.body["document"], fresh.issuer_signed.as_str());
    assert_eq!(
        verify(&fx.h, json!({ "mdoc": fresh.issuer_signed })).await,
        (true, String::new())
    );
}

async fn no_usable_signer_is_a_clear_503_until_the_next_is_added(fx: Fixture) {
    // The only signer's certificate (a year) no longer outlives even the shortest document by the margin.
    set(
        &fx.h,
        edl_tests::at("2026-11-25T10:00:00+08:00")
            + Duration::days(365 - (DOCUMENT_DAYS - JITTER_DAYS) - SIGNER_MARGIN_DAYS + 1),
    );
    fx.h.services.trust_cache.clear();
    let health = fx.h.refreshing().check_keys().await.expect("key check");
    assert_eq!(
        (health.usable_signers, health.days_until_no_usable_signer),
        (0, 0),
        "{health:?}"
    );
    assert!(health.days_until_iaca_expiry > 3000);
    let candidates = shared::sample::generate(fx.licences * 3, 2026);
    let mut refused = None;
    for candidate in &candidates {
        let opened =
            fx.h.call(json_request(
                "POST /applications",
                &[],
                holder(&candidate.holder_id),
                &json!({ "photoSource": "on_file" }),
            ))
            .await;
        if opened.status != 201 {
            continue;
        }
        let id = opened.body["id"].as_str().expect("id").to_string();
        let session = edl_tests::liveness_session(&fx.h, &candidate.holder_id, &id, 99.0).await;
        let passed =
            fx.h.call(json_request(
                "POST /applications/{id}/liveness",
                &[("id", &id)],
                holder(&candidate.holder_id),
                &json!({ "livenessSessionId": session }),
            ))
            .await;
        if passed.body["state"] == "approved" {
            refused = Some(id);
            break;
        }
    }
    let id = refused.expect("an approved application");
    let signed_before = fx.signer.signed.load(Ordering::SeqCst);
    match fx.h.issuing().issue(&id).await {
        Err(shared::service::ServiceError::Unavailable(why)) => {
            assert!(why.contains("add the next signer"), "{why}");
            let problem = shared::http::problem_for(&shared::service::ServiceError::Unavailable(why));
            assert_eq!(problem.status, 503);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fx.signer.signed.load(Ordering::SeqCst),
        signed_before,
        "no signature with a nearly expired signer"
    );
    let key = fx.keys.new_key("ds-next").await;
    fx.h.signing()
        .add_document_signer(&Authority::default(), &key)
        .await
        .expect("next signer");
    assert!(matches!(
        fx.h.issuing().issue(&id).await,
        Ok(IssueOutcome::Issued { .. })
    ));
    let health = fx.h.refreshing().check_keys().await.expect("key check");
    assert_eq!(health.usable_signers, 1);
    let full = 365 - DOCUMENT_DAYS - SIGNER_MARGIN_DAYS;
    assert!(
        (full - 1..=full).contains(&health.days_until_no_usable_signer),
        "{health:?}"
    );
}

async fn retired_signers_stay_in_the_trust_document_until_their_certificate_ends(fx: Fixture) {
    let first = fx.h.services.records.trust().await.expect("trust");
    let first_kid = first
        .iter()
        .find(|t| t.role == shared::verification::ports::TrustRole::DocumentSigner)
        .map(|t| t.kid.clone())
        .expect("signer");
    set(&fx.h, edl_tests::at("2026-11-25T10:00:00+08:00") + Duration::days(200));
    let key = fx.keys.new_key("ds-2").await;
    fx.h.signing()
        .add_document_signer(&Authority::default(), &key)
        .await
        .expect("next");
    fx.h.services.retire_document_signer(&first_kid).await.expect("retired");
    let kids = |doc: &shared::service::verification::TrustDocument| -> Vec<String> {
        doc.document_signers
            .iter()
            .map(|s| s["kid"].as_str().expect("kid").to_string())
            .collect()
    };
    let doc = fx.h.services.trust_document().await.expect("trust document");
    assert!(
        kids(&doc).contains(&first_kid),
        "a retired signer still verifies what it signed"
    );
    set(&fx.h, edl_tests::at("2026-11-25T10:00:00+08:00") + Duration::days(366));
    fx.h.services.trust_cache.clear();
    let doc = fx.h.services.trust_document().await.expect("trust document");
    assert!(
        !kids(&doc).contains(&first_kid),
        "gone once everything it signed has ended"
    );
    assert_eq!(kids(&doc).len(), 1);
}

// Each test once on the embedded adapters and once on DynamoDB and KMS in the emulator.
edl_tests::on_both_adapters!(
    |records, adapter| (Arc::new(records) as Arc<dyn Records>, adapter);
    three_years,
    a_refresh_racing_a_stop_or_supersession,
    a_failing_signer,
    no_usable_signer,
    retired_signers
);

async fn three_years(on: OnAdapter) {
    // Fewer licences on the emulator (every call is a request), with the refresh's part of the budget in the same
    // proportion (about 7.5 % of the licences a day: the steady need is one in sixteen, the launch peak one in
    // twelve), and the status lists' part (every list, every run) on top. The refresh runs several times a day
    // (hourly as deployed would take 26,000 runs over three years): six in process, two on the emulator.
    let (licences, refresh_part, refresh_runs, status_runs) = match on.1 {
        Adapter::Embedded => (200, 15, 6, 3),
        Adapter::Aws => (40, 3, 2, 1),
    };
    let budget = SigningBudget {
        signs_per_day: refresh_part + u64::from(LISTS) * u64::from(status_runs),
        refresh_runs_per_day: refresh_runs,
        status_list_runs_per_day: status_runs,
    };
    three_years_without_applying_again(fixture(on, licences, budget).await).await;
}

/// A roomy budget for the tests that are not about it.
fn roomy() -> SigningBudget {
    SigningBudget {
        signs_per_day: 10_000,
        ..SigningBudget::default()
    }
}

async fn a_refresh_racing_a_stop_or_supersession(on: OnAdapter) {
    a_refresh_racing_a_stop_or_supersession_keeps_it(fixture(on, 5, roomy()).await).await;
}

async fn a_failing_signer(on: OnAdapter) {
    a_failing_signer_leaves_the_document_in_place(fixture(on, 5, roomy()).await).await;
}

async fn no_usable_signer(on: OnAdapter) {
    no_usable_signer_is_a_clear_503_until_the_next_is_added(fixture(on, 5, roomy()).await).await;
}

async fn retired_signers(on: OnAdapter) {
    retired_signers_stay_in_the_trust_document_until_their_certificate_ends(fixture(on, 5, roomy()).await).await;
}

/// The local server's movable clock (development only): a person watches a licence live through a
/// refresh, a year without a usable signer, the next signer, and a fresh document, without applying again.
#[tokio::test]
async fn the_local_server_moves_its_clock_and_runs_the_scheduled_jobs() {
    use edl_local_api::server::LocalApi;
    use edl_local_api::{local_services, Storage};
    use shared::kernel::caller::Role;
    let keys = shared::dev::DevKeys::random();
    let local = local_services(&Storage::Embedded, &keys, 5, 2026, "http://127.0.0.1:9")
        .await
        .expect("local services");
    let api = LocalApi::new(
        local.services,
        local.ports,
        edl_local_api::routes::routes_from_template(edl_local_api::routes::TEMPLATE).expect("routes"),
        keys,
        local.embedded_photos,
        local.notices,
        local.approvals,
    )
    .with_development(local.clock, local.key_maker)
    .with_liveness(local.liveness);
    let send = |method: &str, path: &str, token: Option<&str>, body: serde_json::Value| {
        let mut builder = http::Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let (parts, ()) = builder.body(()).expect("request").into_parts();
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let api = &api;
        async move {
            use http_body_util::BodyExt;
            let response = api.dispatch(parts, bytes::Bytes::from(body)).await;
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await.expect("body").to_bytes();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default(),
            )
        }
    };
    let holder_id = edl_tests::ZHANG_WEI;
    let token = |api: &LocalApi| api.mint(Role::Holder, Some(holder_id.into()), None, None).0;
    let t = token(&api);
    let (status, opened) = send("POST", "/applications", Some(&t), json!({ "photoSource": "on_file" })).await;
    assert_eq!(status, 201, "{opened}");
    let id = opened["id"].as_str().expect("id").to_string();
    let (status, started) = send(
        "POST",
        &format!("/applications/{id}/liveness-sessions"),
        Some(&t),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, 201, "{started}");
    let (status, finished) = send(
        "POST",
        "/_dev/liveness",
        None,
        json!({ "sessionId": started["sessionId"] }),
    )
    .await;
    assert_eq!(status, 200, "{finished}");
    let (status, passed) = send(
        "POST",
        &format!("/applications/{id}/liveness"),
        Some(&t),
        json!({ "livenessSessionId": started["sessionId"] }),
    )
    .await;
    assert_eq!((status, passed["state"].as_str()), (200, Some("approved")), "{passed}");
    let (status, first) = send("GET", "/licence", Some(&t), serde_json::Value::Null).await;
    assert_eq!(status, 200, "{first}");
    let first_end: DateTime<Utc> = serde_json::from_value(first["documentValidUntil"].clone()).expect("end");

    let (status, clock) = send("GET", "/_dev/clock", None, serde_json::Value::Null).await;
    assert_eq!((status, clock["offsetSeconds"].as_i64()), (200, Some(0)), "{clock}");
    // Twenty days on, the scheduled refresh re-signs the document of the same licence. Not
    // further: the document's end was drawn 23 to 30 days after issue, so it came due 13 to 20
    // days after issue, and a run reads back only REFRESH_LOOKBACK_DAYS (7) local days; at 21
    // days a document drawn near 23 days could lie one local day before the run's oldest bucket.
    let (status, clock) = send("POST", "/_dev/clock", None, json!({ "advance": "20d" })).await;
    assert_eq!(status, 200, "{clock}");
    assert!(clock["offsetSeconds"].as_i64().expect("offset") >= 20 * 86_400);
    let (status, run) = send("POST", "/_dev/jobs/refresh", None, serde_json::Value::Null).await;
    assert_eq!((status, run["refresh"]["refreshed"].as_u64()), (200, Some(1)), "{run}");
    let t = token(&api);
    let (_, second) = send("GET", "/licence", Some(&t), serde_json::Value::Null).await;
    assert_eq!(second["serial"], first["serial"]);
    let second_end: DateTime<Utc> = serde_json::from_value(second["documentValidUntil"].clone()).expect("end");
    assert!(second_end > first_end, "{second}");
    // The status lists, published at start: three weeks on every token nears its end, and the job signs them
    // all again; the document names one of them, served at the public route.
    let (status, lists) = send("POST", "/_dev/jobs/status-lists", None, serde_json::Value::Null).await;
    assert_eq!(
        (status, lists["published"].as_u64()),
        (200, Some(u64::from(edl_local_api::LOCAL_STATUS_LISTS))),
        "{lists}"
    );
    let list = second["statusList"]["uri"]
        .as_str()
        .expect("the document's status list");
    let path = list
        .strip_prefix("http://127.0.0.1:9")
        .expect("the local server's own list");
    let (status, _) = send("GET", path, None, serde_json::Value::Null).await;
    assert_eq!(status, 200, "{path}");
    // 400 days on the only signer has ended: the refresh leaves documents be, the key check says
    // so, and GET /licence is a 503 problem until the operator adds the next signer.
    let (status, _) = send("POST", "/_dev/clock", None, json!({ "advance": "400d" })).await;
    assert_eq!(status, 200);
    let (status, run) = send("POST", "/_dev/jobs/refresh", None, serde_json::Value::Null).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["keys"]["usableSigners"], 0, "{run}");
    let (status, expiry) = send("POST", "/_dev/jobs/expire", None, serde_json::Value::Null).await;
    assert_eq!(status, 200, "{expiry}");
    // The issuance sweep: the licence was issued at approval, so nothing waits in the outbox.
    let (status, sweep) = send("POST", "/_dev/jobs/sweep", None, serde_json::Value::Null).await;
    assert_eq!(status, 200, "{sweep}");
    assert_eq!(
        (sweep["read"].as_u64(), sweep["redriven"].as_u64()),
        (Some(0), Some(0)),
        "{sweep}"
    );
    let t = token(&api);
    let (status, problem) = send("GET", "/licence", Some(&t), serde_json::Value::Null).await;
    assert_eq!(status, 503, "{problem}");
    let (status, signer) = send("POST", "/_dev/keys/signers", None, serde_json::Value::Null).await;
    assert_eq!(status, 201, "{signer}");
    let (status, third) = send("GET", "/licence", Some(&t), serde_json::Value::Null).await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(
        third["serial"], first["serial"],
        "the same licence, never applied for again"
    );
    assert_eq!(third["status"], "active");
    // Bad clock requests are 400 problems that say what was wrong.
    for body in [
        json!({ "advance": "soon" }),
        json!({ "set": "tomorrow" }),
        json!({ "advance": "1d", "set": "2030-01-01T00:00:00Z" }),
    ] {
        let (status, problem) = send("POST", "/_dev/clock", None, body).await;
        assert_eq!(status, 400, "{problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{problem}");
    }
    let (status, set) = send(
        "POST",
        "/_dev/clock",
        None,
        json!({ "set": "2030-01-01T09:00:00+08:00" }),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        set["now"].as_str().is_some_and(|n| n.starts_with("2030-01-01T01:00")),
        "{set}"
    );
}

/// The scheduled key check publishes its two numbers to CloudWatch (on the emulator), where the
/// alarms of template.yaml read them.
#[tokio::test]
async fn the_key_check_publishes_to_cloudwatch() {
    use shared::service::keys::{DAYS_UNTIL_IACA_EXPIRY, DAYS_UNTIL_NO_USABLE_SIGNER};
    let mut fx = fixture((Arc::new(edl_tests::dynamo_records().await), Adapter::Aws), 1, roomy()).await;
    let config = edl_tests::aws_config().await;
    let namespace = format!("EDL/test-{}", uuid::Uuid::new_v4().simple());
    fx.h.ports.key_metrics = Arc::new(shared::adapters::cloudwatch::CloudWatchMetrics::new(
        &config,
        namespace.clone(),
    ));
    let health = fx.h.refreshing().check_keys().await.expect("key check");
    assert_eq!(health.usable_signers, 1);
    let client = aws_sdk_cloudwatch::Client::new(&config);
    for (name, expected) in [
        (DAYS_UNTIL_NO_USABLE_SIGNER, health.days_until_no_usable_signer),
        (DAYS_UNTIL_IACA_EXPIRY, health.days_until_iaca_expiry),
    ] {
        let statistics = client
            .get_metric_statistics()
            .namespace(&namespace)
            .metric_name(name)
            .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                Utc::now().timestamp() - 3600,
            ))
            .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                Utc::now().timestamp() + 3600,
            ))
            .period(3600)
            .statistics(aws_sdk_cloudwatch::types::Statistic::Minimum)
            .send()
            .await
            .expect("statistics");
        let minimum = statistics.datapoints().iter().filter_map(|d| d.minimum()).next();
        assert_eq!(minimum, Some(expected as f64), "{name}: {statistics:?}");
    }
}
