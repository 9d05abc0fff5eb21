//! The published status lists on both adapters (issue 12 item 3): every signed document names a random entry;
//! stopping, superseding, expiring and refreshing licences flip their entries, which the published token shows
//! after the job runs; an independent decoder (Python's `cbor2` and `zlib`) reads the token served at
//! `GET /status-lists/{id}` and agrees with the server for every licence; a refresh racing a stop keeps the
//! stop's status; an unknown list is a 404 problem.

// A test binary: its helpers fail the test by panicking, as the tests themselves do.
#![allow(clippy::panic)]

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use edl_tests::{admin, harness, json_request, request, Harness};
use serde_json::{json, Value};
use shared::adapters::Records;
use shared::credential::status_list::{self, INVALID, SUSPENDED, VALID};
use shared::issuance::edl::{EdlStatus, ElectronicLicence};
use shared::issuance::status::StatusEntry;
use shared::kernel::caller::{Actor, Role};
use shared::kernel::signing::{Signer, SignerError};
use shared::service::keys::Authority;
use shared::service::refresh::{RefreshCause, RefreshOptions};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Lists in the tests: few, each of the deployed size (2^20 two-bit entries).
const LISTS: u32 = 4;
/// Licences each test issues: enough that their entries spread over several lists.
const LICENCES: usize = 8;

/// The harness with keys: in process, or in KMS on the emulator (the DynamoDB run signs through KMS as deployed).
struct Fixture {
    h: Harness,
    kms: Option<Box<aws_config::SdkConfig>>,
}

async fn fixture(records: Arc<dyn Records>, kms: bool) -> Fixture {
    let mut h = harness(records, LICENCES * 3).await;
    h.services.status_lists.lists = LISTS;
    h.services.status_lists.base_url = "https://edl.example.gov.cn".into();
    let (signer, config): (Arc<dyn Signer>, Option<Box<aws_config::SdkConfig>>) = if kms {
        let config = edl_tests::aws_config().await;
        (
            Arc::new(shared::adapters::kms::KmsSigner::new(&config)),
            Some(Box::new(config)),
        )
    } else {
        let local = Arc::new(shared::crypto::LocalSigner::new());
        local.generate("iaca");
        local.generate("ds-1");
        (local, None)
    };
    h.ports.signer = signer;
    let fx = Fixture { h, kms: config };
    let iaca = fx.new_key("iaca").await;
    let ds = fx.new_key("ds-1").await;
    fx.h.signing()
        .install_iaca(&Authority::default(), &iaca)
        .await
        .expect("IACA");
    fx.h.signing()
        .add_document_signer(&Authority::default(), &ds)
        .await
        .expect("document signer");
    fx
}

impl Fixture {
    async fn new_key(&self, name: &str) -> String {
        match &self.kms {
            Some(config) => shared::adapters::kms::create_signing_key(config, name)
                .await
                .expect("KMS key on the emulator"),
            None => name.to_string(),
        }
    }
}

/// Up to `count` licences issued one after another, in order: (holder, serial).
async fn issue_licences(h: &Harness, count: usize) -> Vec<(String, String)> {
    let mut issued = Vec::new();
    for candidate in shared::sample::generate(LICENCES * 3, 2026) {
        if issued.len() == count {
            break;
        }
        if let Some(serial) = edl_tests::apply_and_issue(h, &candidate.holder_id).await {
            issued.push((candidate.holder_id.clone(), serial));
        }
    }
    assert!(issued.len() >= count.min(5), "issued {} licences", issued.len());
    issued
}

async fn record(h: &Harness, serial: &str) -> ElectronicLicence {
    h.services
        .records
        .electronic_licence(serial)
        .await
        .expect("read")
        .expect("licence")
}

/// The entry a licence's current document names in its MSO, checked against the record.
async fn entry_of(h: &Harness, serial: &str) -> StatusEntry {
    let edl = record(h, serial).await;
    let entry = edl.status_entry.expect("a status entry");
    let issuer_signed = STANDARD.decode(&edl.issuer_signed).expect("base64");
    let mso = shared::credential::mdoc::verify_issuer_signed(&issuer_signed, h.services.now(), 0)
        .expect("the document verifies");
    let named = mso.status.expect("the MSO names its status");
    assert_eq!(named.idx, entry.idx);
    assert_eq!(
        named.uri,
        format!("https://edl.example.gov.cn/status-lists/{}", entry.list)
    );
    entry
}

/// `GET /status-lists/{id}` through the verify function's handler: status, content type, cache control, body.
async fn fetch(h: &Harness, id: &str) -> (u16, String, String, Vec<u8>) {
    let response = edl_verify::handle(
        &h.services,
        request("GET /status-lists/{id}", &[("id", id)], None, None, None),
    )
    .await;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (content_type, cache) = (header("content-type"), header("cache-control"));
    let body: &[u8] = response.body().as_ref();
    (response.status().as_u16(), content_type, cache, body.to_vec())
}

/// Reads the token with Python's cbor2 and zlib alone: the COSE_Sign1 (tag 18), its protected `typ`, the claims
/// (`sub`, `exp`, `ttl`, `status_list`), the list inflated and the status of each asked index unpacked.
const READ_TOKEN: &str = r#"
import json, sys, zlib
import cbor2

token = cbor2.loads(open(sys.argv[1], "rb").read())
assert token.tag == 18, token.tag
protected, unprotected, payload, signature = token.value
header = cbor2.loads(protected)
claims = cbor2.loads(payload)
status_list = claims[65533]
bits = status_list["bits"]
packed = zlib.decompress(status_list["lst"])
per_byte = 8 // bits
def status(idx):
    return (packed[idx // per_byte] >> ((idx % per_byte) * bits)) & ((1 << bits) - 1)
print(json.dumps({
    "typ": header[16], "alg": header[1], "kid": header[4].decode(),
    "sub": claims[2], "iat": claims[6], "exp": claims[4], "ttl": claims[65534],
    "bits": bits, "size": len(packed) * per_byte,
    "statuses": {i: status(int(i)) for i in sys.argv[2:]},
}))
"#;

fn python() -> String {
    match std::env::var("EDL_PYTHON") {
        Ok(python) if !python.is_empty() => python,
        _ => panic!(
            "EDL_PYTHON is not set. This test runs Python's cbor2: run scripts/test.sh, or install \
             scripts/requirements-dev.txt into a venv and set EDL_PYTHON=<venv>/bin/python"
        ),
    }
}

/// A unique enough file name part for parallel tests.
fn random_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

fn read_with_python(token: &[u8], indices: &[u64]) -> Value {
    let path = std::env::temp_dir().join(format!(
        "edl-status-list-{}-{}.cwt",
        std::process::id(),
        random_suffix()
    ));
    std::fs::write(&path, token).expect("token file");
    let mut command = std::process::Command::new(python());
    command.arg("-c").arg(READ_TOKEN).arg(&path);
    for idx in indices {
        command.arg(idx.to_string());
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python()));
    let _ = std::fs::remove_file(&path);
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("python's JSON")
}

/// Runs the job, fetches every list that holds one of `expected`'s entries and checks, with the independent
/// decoder, that each entry has the status expected; also that our own decoder reads the same and the
/// signature verifies against the trust document's key.
async fn published_agrees(h: &Harness, expected: &BTreeMap<StatusEntry, u8>) {
    let report = h.signing().run_status_lists().await.expect("the job");
    assert!(report.signer_unavailable.is_none(), "{report:?}");
    let mut by_list: BTreeMap<u32, Vec<(u64, u8)>> = BTreeMap::new();
    for (entry, status) in expected {
        by_list.entry(entry.list).or_default().push((entry.idx, *status));
    }
    let trust = h.services.trust_document().await.expect("trust document");
    let trust = serde_json::to_value(&trust).expect("json");
    for (list, entries) in by_list {
        let (status, content_type, cache, token) = fetch(h, &list.to_string()).await;
        assert_eq!(status, 200);
        assert_eq!(content_type, "application/statuslist+cwt");
        assert_eq!(cache, "public, max-age=900");
        let indices: Vec<u64> = entries.iter().map(|(idx, _)| *idx).collect();
        let read = read_with_python(&token, &indices);
        assert_eq!(read["typ"], "application/statuslist+cwt");
        assert_eq!(read["alg"], -7, "ES256");
        assert_eq!(read["sub"], format!("https://edl.example.gov.cn/status-lists/{list}"));
        assert_eq!(read["ttl"], 900);
        assert_eq!(read["bits"], 2);
        assert_eq!(read["size"], 1 << 20);
        assert!(read["exp"].as_i64() > Some(h.services.now().timestamp()));
        for (idx, want) in &entries {
            assert_eq!(
                read["statuses"][idx.to_string()],
                json!(want),
                "list {list} entry {idx}: python reads {} where the server has {want}",
                read["statuses"][idx.to_string()]
            );
        }
        // Our decoder agrees, and the signature verifies with the key the trust document publishes for its kid.
        let signed = status_list::decode(&token).expect("our decoder");
        let kid = String::from_utf8(signed.kid.clone()).expect("kid");
        assert_eq!(read["kid"], kid.as_str());
        let jwk = &trust["documentSigners"]
            .as_array()
            .expect("signers")
            .iter()
            .find(|s| s["kid"] == kid.as_str())
            .unwrap_or_else(|| panic!("{kid} in the trust document: {trust}"))["jwk"];
        let xy = |c: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwk[c].as_str().expect("coordinate"))
                .expect("b64")
        };
        let public = [vec![4u8], xy("x"), xy("y")].concat();
        signed.verify(&public).expect("the signature verifies");
        for (idx, want) in &entries {
            assert_eq!(signed.token.list.get(*idx).expect("entry"), *want);
        }
    }
}

/// What every licence's entries should read: its current entry as its state, replaced documents' invalid.
async fn expected_of(h: &Harness, serials: &[String]) -> BTreeMap<StatusEntry, u8> {
    let mut expected = BTreeMap::new();
    for serial in serials {
        let edl = record(h, serial).await;
        for retired in &edl.retired_entries {
            expected.insert(retired.entry(), INVALID);
        }
        expected.insert(edl.status_entry.expect("entry"), edl.published_status());
    }
    expected
}

async fn stopping_superseding_expiring_and_refreshing_flip_entries(fx: Fixture) {
    let h = &fx.h;
    // Every paper licence ends in 40 days, so that the expiry job ends them while the signer lives.
    let soon = h.services.today() + Duration::days(40);
    let mut register = shared::sample::generate(LICENCES * 3, 2026);
    for licence in &mut register {
        licence.valid_to = soon;
    }
    h.services
        .records
        .import_licences(&register)
        .await
        .expect("the register, renewed to end soon");
    let issued = issue_licences(h, LICENCES).await;
    let serials: Vec<String> = issued.iter().map(|(_, s)| s.clone()).collect();
    let mut entries = Vec::new();
    for serial in &serials {
        entries.push(entry_of(h, serial).await);
    }
    // Random indices: consecutive licences never have consecutive entries, and they spread over the lists.
    for pair in entries.windows(2) {
        assert!(
            pair[0].list != pair[1].list || pair[0].idx.abs_diff(pair[1].idx) > 1,
            "consecutive licences got neighbouring entries: {entries:?}"
        );
    }
    let lists: std::collections::BTreeSet<u32> = entries.iter().map(|e| e.list).collect();
    assert!(lists.len() >= 2, "{entries:?}");
    let distinct: std::collections::BTreeSet<&StatusEntry> = entries.iter().collect();
    assert_eq!(distinct.len(), entries.len(), "an entry is never shared");
    published_agrees(h, &expected_of(h, &serials).await).await;
    for entry in &entries {
        assert_eq!(h.services.stored_status(*entry).await.expect("status"), VALID);
    }

    // A stop (a malicious upload confirmed) suspends the entry.
    let (stopped_holder, stopped) = &issued[0];
    assert_eq!(entry_of(h, stopped).await, entries[0]);
    h.services
        .stop_electronic_licence(
            stopped_holder,
            "malicious upload confirmed",
            Actor {
                id: "reviewer-0002".into(),
                role: Role::Reviewer,
            },
        )
        .await
        .expect("stopped");
    assert_eq!(h.services.stored_status(entries[0]).await.expect("status"), SUSPENDED);
    // A change of classes, validity or authority (the administrator's PATCH) supersedes: invalid.
    let (superseded_holder, superseded) = &issued[1];
    let valid_to = (h.services.today() + Duration::days(3000)).to_string();
    let patched = h
        .call(json_request(
            "PATCH /admin/licences/{number}",
            &[("number", superseded_holder)],
            admin(),
            &json!({ "renewal": { "validTo": valid_to }, "reason": "换证" }),
        ))
        .await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert!(matches!(
        record(h, superseded).await.status,
        EdlStatus::Superseded { .. }
    ));
    assert_eq!(h.services.stored_status(entries[1]).await.expect("status"), INVALID);
    // Not published until the job runs: the token still says valid.
    let (_, _, _, before_job) = fetch(h, &entries[0].list.to_string()).await;
    let stale = status_list::decode(&before_job).expect("token");
    assert_eq!(stale.token.list.get(entries[0].idx).expect("entry"), VALID);
    published_agrees(h, &expected_of(h, &serials).await).await;
    // Offline (edl-verify --mdoc --status-list): the stopped document reads suspended, a live one valid, from the
    // downloaded list and the trust document alone; a list other than the one it names, or one that ended, is refused.
    let trust = h
        .call(request("GET /.well-known/edl/trust", &[], None, None, None))
        .await
        .body;
    let offline = |serial: &str, list: u32| {
        let serial = serial.to_string();
        let trust = trust.clone();
        async move {
            let edl = record(h, &serial).await;
            let token = fetch(h, &list.to_string()).await.3;
            let document = STANDARD.decode(&edl.issuer_signed).expect("base64");
            edl_verify::offline::document_status(&trust, &document, &token, h.services.now())
        }
    };
    let suspended = offline(stopped, entries[0].list).await.expect("read offline");
    assert_eq!((suspended.status, suspended.word()), (SUSPENDED, "suspended"));
    assert_eq!(suspended.serial.as_deref(), Some(stopped.as_str()));
    assert_eq!(suspended.idx, entries[0].idx);
    let live = offline(&serials[4], entries[4].list).await.expect("read offline");
    assert_eq!(live.status, VALID);
    let other_list = (entries[4].list + 1) % LISTS;
    assert_eq!(
        offline(&serials[4], other_list).await.map_err(|e| e.0),
        Err("wrong-status-list".to_string())
    );
    let token = fetch(h, &entries[4].list.to_string()).await.3;
    let document = STANDARD
        .decode(&record(h, &serials[4]).await.issuer_signed)
        .expect("base64");
    let a_day_on = h.services.now() + Duration::hours(25);
    assert_eq!(
        edl_verify::offline::document_status(&trust, &document, &token, a_day_on).map_err(|e| e.0),
        Err("status-list-expired".to_string())
    );
    let mut forged = token.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        edl_verify::offline::document_status(&trust, &document, &forged, h.services.now()).map_err(|e| e.0),
        Err("bad-signature".to_string())
    );

    // A refresh gives the document a new random entry; the replaced one reads invalid until that document ends.
    let refreshed = &serials[2];
    let before = record(h, refreshed).await;
    h.clock
        .set(&(before.document_valid_until - Duration::days(5)).to_rfc3339());
    let (_, signs) = h
        .signing()
        .refresh_document(refreshed, RefreshCause::Schedule)
        .await
        .expect("refresh");
    assert_eq!(signs, 1);
    let after = record(h, refreshed).await;
    let new_entry = entry_of(h, refreshed).await;
    assert_ne!(new_entry, entries[2], "a refreshed document draws a new entry");
    assert_eq!(after.retired_entries.len(), 1);
    assert_eq!(after.retired_entries[0].entry(), entries[2]);
    assert_eq!(after.retired_entries[0].until, before.document_valid_until);
    assert_eq!(h.services.stored_status(entries[2]).await.expect("status"), INVALID);
    assert_eq!(h.services.stored_status(new_entry).await.expect("status"), VALID);
    // Every other due document too (the scheduled refresh), then the lists again.
    h.refreshing()
        .run_refresh(None, &RefreshOptions::default())
        .await
        .expect("refresh run");
    published_agrees(h, &expected_of(h, &serials).await).await;

    // The expiry job ends the licences whose paper licence ended: invalid.
    let expired = &serials[3];
    let edl = record(h, expired).await;
    h.clock.set(&(edl.valid_until + Duration::hours(2)).to_rfc3339());
    h.services
        .run_expiry(None, &shared::service::expiry::ExpiryOptions::default())
        .await
        .expect("expiry run");
    assert!(matches!(record(h, expired).await.status, EdlStatus::Expired { .. }));
    let expired_entry = record(h, expired).await.status_entry.expect("entry");
    assert_eq!(h.services.stored_status(expired_entry).await.expect("status"), INVALID);
    published_agrees(h, &expected_of(h, &serials).await).await;
}

async fn the_job_signs_only_what_changed_or_nears_its_end(fx: Fixture) {
    let h = &fx.h;
    let first = h.signing().run_status_lists().await.expect("job");
    assert_eq!(
        (first.lists, first.published),
        (LISTS, LISTS),
        "every list published once"
    );
    let again = h.signing().run_status_lists().await.expect("job");
    assert_eq!(again.published, 0, "nothing changed: no signature");
    let issued = issue_licences(h, 1).await;
    let entry = entry_of(h, &issued[0].1).await;
    h.services
        .stop_electronic_licence(
            &issued[0].0,
            "malicious upload confirmed",
            Actor {
                id: "reviewer-0002".into(),
                role: Role::Reviewer,
            },
        )
        .await
        .expect("stopped");
    let changed = h.signing().run_status_lists().await.expect("job");
    assert_eq!(changed.published, 1, "only the list whose entry changed: {changed:?}");
    let token = fetch(h, &entry.list.to_string()).await.3;
    assert_eq!(
        status_list::decode(&token).expect("token").token.list.get(entry.idx),
        Ok(SUSPENDED)
    );
    // Thirteen hours on, every token ends within twelve: all signed again though nothing changed.
    let later: DateTime<Utc> = h.services.now() + Duration::hours(13);
    h.clock.set(&later.to_rfc3339());
    let renewed = h.signing().run_status_lists().await.expect("job");
    assert_eq!(renewed.published, LISTS);
    let token = status_list::decode(&fetch(h, "0").await.3).expect("token");
    assert_eq!(token.token.issued_at, later.timestamp());
    assert_eq!(token.token.expires_at, (later + Duration::hours(24)).timestamp());
}

async fn an_unknown_list_is_a_404_problem(fx: Fixture) {
    let h = &fx.h;
    for id in [LISTS.to_string(), "007".into(), "9999999999".into()] {
        let (status, content_type, _, body) = fetch(h, &id).await;
        assert_eq!(
            (status, content_type.as_str()),
            (404, "application/problem+json"),
            "{id}"
        );
        let problem: Value = serde_json::from_slice(&body).expect("problem");
        assert_eq!(problem["type"], "urn:edl:problem:not-found");
        assert!(
            problem["detail"].as_str().is_some_and(|d| d.contains("status list")),
            "{problem}"
        );
    }
    // Not a list's name at all: the input rules refuse it before any lookup.
    for id in ["-1", "list", "99999999999", "../trust"] {
        let (status, content_type, _, body) = fetch(h, id).await;
        assert_eq!(
            (status, content_type.as_str()),
            (400, "application/problem+json"),
            "{id}"
        );
        let problem: Value = serde_json::from_slice(&body).expect("problem");
        assert_eq!(problem["type"], "urn:edl:problem:invalid-request", "{problem}");
    }
    // A configured list before the job first published it: unavailable, retry.
    let (status, _, _, _) = fetch(h, "0").await;
    assert_eq!(status, 503);
    h.signing().run_status_lists().await.expect("job");
    assert_eq!(fetch(h, "0").await.0, 200);
}

/// A signer that stops the licence (the stop use case, with its own publication) while the refresh signs.
struct StoppingSigner {
    inner: Arc<dyn Signer>,
    services: shared::service::Services,
    holder: String,
    serial: String,
}

#[async_trait]
impl Signer for StoppingSigner {
    async fn sign_digest(&self, key_id: &str, digest: &[u8; 32]) -> Result<[u8; 64], SignerError> {
        if let Ok(Some(edl)) = self.services.records.electronic_licence(&self.serial).await {
            if edl.is_active() {
                self.services
                    .stop_electronic_licence(
                        &self.holder,
                        "malicious upload",
                        Actor {
                            id: "reviewer-0001".into(),
                            role: Role::Reviewer,
                        },
                    )
                    .await
                    .expect("the concurrent stop");
            }
        }
        self.inner.sign_digest(key_id, digest).await
    }
    async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, SignerError> {
        self.inner.public_key(key_id).await
    }
}

async fn a_refresh_racing_a_stop_leaves_the_entry_suspended(fx: Fixture) {
    let h = &fx.h;
    let issued = issue_licences(h, 1).await;
    let (holder_id, serial) = issued[0].clone();
    let entry = entry_of(h, &serial).await;
    let before = record(h, &serial).await;
    let services = shared::service::Signing::new(
        h.services.clone(),
        Arc::new(StoppingSigner {
            inner: h.ports.signer.clone(),
            services: h.services.clone(),
            holder: holder_id,
            serial: serial.clone(),
        }),
    );
    h.clock
        .set(&(before.document_valid_until - Duration::days(5)).to_rfc3339());
    services
        .refresh_document(&serial, RefreshCause::Schedule)
        .await
        .expect("refresh");
    let after = record(h, &serial).await;
    assert!(matches!(after.status, EdlStatus::Stopped { .. }));
    assert_eq!(
        after.status_entry,
        Some(entry),
        "the stop kept the document and its entry"
    );
    assert_eq!(after.issuer_signed, before.issuer_signed);
    assert_eq!(h.services.stored_status(entry).await.expect("status"), SUSPENDED);
    published_agrees(h, &BTreeMap::from([(entry, SUSPENDED)])).await;
}

/// The other policy: a replaced document's entry reads as its licence, valid while it lives, suspended with it.
async fn replaced_documents_can_read_as_their_licence(mut fx: Fixture) {
    fx.h.services.status_lists.replaced_documents_invalid = false;
    let h = &fx.h;
    let issued = issue_licences(h, 1).await;
    let (holder_id, serial) = issued[0].clone();
    let first = entry_of(h, &serial).await;
    let before = record(h, &serial).await;
    h.clock
        .set(&(before.document_valid_until - Duration::days(5)).to_rfc3339());
    h.signing()
        .refresh_document(&serial, RefreshCause::Schedule)
        .await
        .expect("refresh");
    let second = entry_of(h, &serial).await;
    assert_ne!(first, second);
    assert_eq!(h.services.stored_status(first).await.expect("status"), VALID);
    h.services
        .stop_electronic_licence(
            &holder_id,
            "malicious upload confirmed",
            Actor {
                id: "reviewer-0002".into(),
                role: Role::Reviewer,
            },
        )
        .await
        .expect("stopped");
    for entry in [first, second] {
        assert_eq!(h.services.stored_status(entry).await.expect("status"), SUSPENDED);
    }
    published_agrees(h, &BTreeMap::from([(first, SUSPENDED), (second, SUSPENDED)])).await;
}

/// The register's state flags through `PATCH /admin/licences/{number}`.
async fn set_states(h: &Harness, number: &str, states: Value, reason: &str) {
    let patched = h
        .call(json_request(
            "PATCH /admin/licences/{number}",
            &[("number", number)],
            admin(),
            &json!({ "states": states, "reason": reason }),
        ))
        .await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!(patched.body["supersedesElectronicLicence"], false, "{patched:?}");
}

/// R1, R7: a paper licence detained (or seized, announced stopped, cancelled) leaves its electronic licence
/// active but held, and offline verifiers read its entry suspended; lifting the flag reinstates it (valid
/// again). A flag that only turns the code red (an overdue medical examination) is no hold.
async fn a_hold_in_the_register_suspends_and_lifting_it_reinstates(fx: Fixture) {
    let h = &fx.h;
    let issued = issue_licences(h, 2).await;
    let (holder, held) = (&issued[0].0, &issued[0].1);
    let other = &issued[1].1;
    let (held_entry, other_entry) = (entry_of(h, held).await, entry_of(h, other).await);
    published_agrees(h, &BTreeMap::from([(held_entry, VALID), (other_entry, VALID)])).await;

    set_states(h, holder, json!(["detained"]), "扣留").await;
    let edl = record(h, held).await;
    assert!(edl.is_active() && edl.register_hold, "{edl:?}");
    assert_eq!(h.services.stored_status(held_entry).await.expect("status"), SUSPENDED);
    assert_eq!(h.services.stored_status(other_entry).await.expect("status"), VALID);
    published_agrees(h, &BTreeMap::from([(held_entry, SUSPENDED), (other_entry, VALID)])).await;
    let serials = [held.clone(), other.clone()];
    published_agrees(h, &expected_of(h, &serials).await).await;

    // Detained and overdue for the medical examination, then only overdue: the hold is lifted.
    set_states(h, holder, json!(["detained", "medical_overdue"]), "逾期未体检").await;
    assert_eq!(h.services.stored_status(held_entry).await.expect("status"), SUSPENDED);
    set_states(h, holder, json!(["medical_overdue"]), "发还").await;
    let edl = record(h, held).await;
    assert!(edl.is_active() && !edl.register_hold, "{edl:?}");
    assert_eq!(h.services.stored_status(held_entry).await.expect("status"), VALID);
    published_agrees(h, &BTreeMap::from([(held_entry, VALID), (other_entry, VALID)])).await;
}

/// What the served token (read by Python) says of one entry.
async fn served(h: &Harness, entry: StatusEntry) -> u8 {
    let (status, _, _, token) = fetch(h, &entry.list.to_string()).await;
    assert_eq!(status, 200);
    let read = read_with_python(&token, &[entry.idx]);
    let value = read["statuses"][entry.idx.to_string()].as_u64().expect("a status");
    u8::try_from(value).expect("two bits")
}

/// Every licence marked as having statuses to publish, in every mark shard, whatever its age.
async fn marked(h: &Harness) -> Vec<String> {
    let mut serials = Vec::new();
    for shard in 0..shared::issuance::status::STATUS_MARK_SHARDS {
        let later = h.services.now() + Duration::days(1);
        serials.extend(
            h.services
                .records
                .marked_for_publication(shard, later, 100)
                .await
                .expect("marks"),
        );
    }
    serials
}

/// No flip is lost: the shard write fails (injected) after the licence's record was written, the served token
/// keeps the old status, and the next runs of the job publish the licence's state from its record and clear its
/// mark. A mark that a later change overtook publishes that later state, and a publication of the earlier
/// version cannot clear the later change's mark.
async fn a_flip_that_failed_is_published_by_the_job(records: Arc<dyn Records>, kms: bool) {
    let faulty = Arc::new(edl_tests::faulty::FaultyRecords::new(records));
    let fx = fixture(faulty.clone(), kms).await;
    let h = &fx.h;
    let issued = issue_licences(h, 2).await;
    let (stopped_holder, stopped) = issued[0].clone();
    let (held_holder, held) = issued[1].clone();
    let (stopped_entry, held_entry) = (entry_of(h, &stopped).await, entry_of(h, &held).await);
    published_agrees(h, &BTreeMap::from([(stopped_entry, VALID), (held_entry, VALID)])).await;
    assert!(
        marked(h).await.is_empty(),
        "nothing waits: every flip so far was published"
    );

    faulty.fail("put_status_shard");
    h.services
        .stop_electronic_licence(
            &stopped_holder,
            "malicious upload confirmed",
            Actor {
                id: "reviewer-0002".into(),
                role: Role::Reviewer,
            },
        )
        .await
        .expect("the stop is recorded though its flip failed");
    let edl = record(h, &stopped).await;
    assert!(matches!(edl.status, EdlStatus::Stopped { .. }));
    assert!(edl.status_to_publish.is_some(), "the stop's write marked it");
    assert_eq!(marked(h).await, vec![stopped.clone()]);
    assert_eq!(h.services.stored_status(stopped_entry).await.expect("status"), VALID);
    // Within the grace minute the job leaves the mark to the writer; the token still says valid.
    let report = h.signing().run_status_lists().await.expect("the job");
    assert_eq!((report.reconciled, report.reconcile_failed), (0, 0), "{report:?}");
    assert_eq!(served(h, stopped_entry).await, VALID);
    // Two minutes on, with the shards still failing: tried, left marked, the token unchanged.
    h.clock.set(&(h.services.now() + Duration::minutes(2)).to_rfc3339());
    let report = h.signing().run_status_lists().await.expect("the job");
    assert_eq!((report.reconciled, report.reconcile_failed), (0, 1), "{report:?}");
    assert_eq!(served(h, stopped_entry).await, VALID);
    assert_eq!(marked(h).await, vec![stopped.clone()]);

    // A mark overtaken by a later change: the register holds the other licence (its flip fails), then the
    // administrator's renewal supersedes it (its flip fails too). The mark keeps its first time; the job
    // publishes the record as it is now, invalid, not the hold's suspended.
    set_states(h, &held_holder, json!(["detained"]), "扣留").await;
    let hold = record(h, &held).await;
    assert!(hold.register_hold && hold.status_to_publish.is_some(), "{hold:?}");
    let valid_to = (h.services.today() + Duration::days(3000)).to_string();
    let patched = h
        .call(json_request(
            "PATCH /admin/licences/{number}",
            &[("number", &held_holder)],
            admin(),
            &json!({ "renewal": { "validTo": valid_to }, "reason": "换证" }),
        ))
        .await;
    assert_eq!(patched.status, 200, "{patched:?}");
    let later = record(h, &held).await;
    assert!(matches!(later.status, EdlStatus::Superseded { .. }));
    assert_eq!(
        later.status_to_publish, hold.status_to_publish,
        "the first mark's time is kept"
    );
    // A publication of the hold's version cannot clear the later change's mark.
    assert!(matches!(
        h.services.records.clear_status_mark(&held, hold.version).await,
        Err(shared::kernel::store::StoreError::Conflict)
    ));
    assert!(record(h, &held).await.status_to_publish.is_some());

    faulty.heal();
    h.clock.set(&(h.services.now() + Duration::minutes(2)).to_rfc3339());
    let report = h.signing().run_status_lists().await.expect("the job");
    assert_eq!((report.reconciled, report.reconcile_failed), (2, 0), "{report:?}");
    assert!(report.published >= 1, "{report:?}");
    assert_eq!(served(h, stopped_entry).await, SUSPENDED);
    assert_eq!(served(h, held_entry).await, INVALID);
    assert!(marked(h).await.is_empty(), "the marks are gone");
    for serial in [&stopped, &held] {
        assert_eq!(record(h, serial).await.status_to_publish, None);
    }
    let serials = [stopped.clone(), held.clone()];
    published_agrees(h, &expected_of(h, &serials).await).await;
    let report = h.signing().run_status_lists().await.expect("the job");
    assert_eq!(
        (report.reconciled, report.published),
        (0, 0),
        "nothing left: {report:?}"
    );
}

/// `POST /admin/licences` with these register lines (JSON Lines).
async fn import(h: &Harness, licences: &[shared::register::licence::Licence]) {
    let body = shared::sample::to_json_lines(licences);
    let imported = h
        .call(request(
            "POST /admin/licences",
            &[],
            admin(),
            Some("application/x-ndjson"),
            Some(&body),
        ))
        .await;
    assert_eq!(imported.status, 200, "{imported:?}");
    assert_eq!(imported.body["imported"], licences.len());
}

/// R1, R7: an import that changes a paper licence's state flags places or lifts the hold exactly as the
/// administrator's change does; an import that changes nothing of the hold writes nothing to the licence.
async fn an_import_places_and_lifts_holds_as_the_change_does(fx: Fixture) {
    let h = &fx.h;
    let issued = issue_licences(h, 2).await;
    let (holder, held) = (&issued[0].0, &issued[0].1);
    let other = &issued[1].1;
    let (held_entry, other_entry) = (entry_of(h, held).await, entry_of(h, other).await);
    published_agrees(h, &BTreeMap::from([(held_entry, VALID), (other_entry, VALID)])).await;
    let register = |number: &str| {
        let number = number.to_string();
        async move {
            h.services
                .records
                .licence(&number)
                .await
                .expect("read")
                .expect("in the register")
        }
    };
    let mut line = register(holder).await;
    let untouched = register(&issued[1].0).await;

    // The register's next file says the licence was seized (the other line is as it was).
    line.states = vec![shared::register::licence::LicenceState::Seized];
    import(h, &[line.clone(), untouched.clone()]).await;
    let edl = record(h, held).await;
    assert!(edl.is_active() && edl.register_hold, "{edl:?}");
    assert_eq!(edl.status_to_publish, None, "published at once");
    let other_before = record(h, other).await;
    assert!(!other_before.register_hold);
    published_agrees(h, &BTreeMap::from([(held_entry, SUSPENDED), (other_entry, VALID)])).await;

    // The same file again (a replayed chunk): nothing more changes.
    import(h, &[line.clone(), untouched.clone()]).await;
    assert_eq!(record(h, held).await.version, edl.version);
    assert_eq!(record(h, other).await.version, other_before.version);

    // Returned: the next file lifts the flag, and the licence is valid again.
    line.states = Vec::new();
    import(h, &[line]).await;
    let edl = record(h, held).await;
    assert!(edl.is_active() && !edl.register_hold, "{edl:?}");
    published_agrees(h, &BTreeMap::from([(held_entry, VALID), (other_entry, VALID)])).await;
}

edl_tests::on_both_adapters!(|records| records;
    flips, job, unknown_list, racing_stop, replaced_as_licence, holds, failed_flip, import_holds
);

async fn import_holds(records: impl Records + 'static) {
    let kms = std::any::type_name_of_val(&records).contains("Dynamo");
    an_import_places_and_lifts_holds_as_the_change_does(fixture(Arc::new(records), kms).await).await;
}

async fn failed_flip(records: impl Records + 'static) {
    let kms = std::any::type_name_of_val(&records).contains("Dynamo");
    a_flip_that_failed_is_published_by_the_job(Arc::new(records), kms).await;
}

async fn holds(records: impl Records + 'static) {
    let kms = std::any::type_name_of_val(&records).contains("Dynamo");
    a_hold_in_the_register_suspends_and_lifting_it_reinstates(fixture(Arc::new(records), kms).await).await;
}

async fn replaced_as_licence(records: impl Records + 'static) {
    replaced_documents_can_read_as_their_licence(fixture(Arc::new(records), false).await).await;
}

async fn flips(records: impl Records + 'static) {
    let kms = std::any::type_name_of_val(&records).contains("Dynamo");
    stopping_superseding_expiring_and_refreshing_flip_entries(fixture(Arc::new(records), kms).await).await;
}

async fn job(records: impl Records + 'static) {
    let kms = std::any::type_name_of_val(&records).contains("Dynamo");
    the_job_signs_only_what_changed_or_nears_its_end(fixture(Arc::new(records), kms).await).await;
}

async fn unknown_list(records: impl Records + 'static) {
    an_unknown_list_is_a_404_problem(fixture(Arc::new(records), false).await).await;
}

async fn racing_stop(records: impl Records + 'static) {
    let kms = std::any::type_name_of_val(&records).contains("Dynamo");
    a_refresh_racing_a_stop_leaves_the_entry_suspended(fixture(Arc::new(records), kms).await).await;
}
