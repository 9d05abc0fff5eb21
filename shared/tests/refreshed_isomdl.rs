//! The independent check of a refreshed document: spruceid's isomdl authenticates a licence document
//! re-signed by the refresh (same serial, new signature, validity and salts), as it does an issued one.

// A test binary: its helpers fail the test by panicking, as the tests themselves do.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use shared::adapters::embedded::notices::EmbeddedNotices;
use shared::adapters::embedded::photos::EmbeddedPhotos;
use shared::adapters::embedded::EmbeddedRecords;
use shared::adapters::NoLivenessService;
use shared::applications::application::{Application, Channel, Opening, PhotoSource};
use shared::applications::ports::ApplicationStore;
use shared::credential::mdoc;
use shared::crypto::LocalSigner;
use shared::dev::DevKeys;
use shared::issuance::ports::LicenceStore;
use shared::kernel::caller::{Actor, Role};
use shared::kernel::time::Clock;
use shared::register::ports::RegisterStore;
use shared::service::issuance::IssueOutcome;
use shared::service::keys::Authority;
use shared::service::refresh::{RefreshCause, RefreshOutcome};
use shared::service::{Issuing, Notices, Services, Signing};
use std::sync::{Arc, Mutex};

/// isomdl checks certificates against the wall clock, so this clock starts in the past and comes to now.
struct MovableClock(Mutex<DateTime<Utc>>);

impl Clock for MovableClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn digests_of(issuer_signed: &isomdl::definitions::IssuerSigned) -> Vec<Vec<u8>> {
    let mso: isomdl::definitions::helpers::Tag24<isomdl::definitions::Mso> =
        isomdl::cbor::from_slice(issuer_signed.issuer_auth.payload.as_ref().unwrap()).unwrap();
    let mso = mso.into_inner();
    let mut digests = Vec::new();
    for (_, items) in mso.value_digests.iter() {
        for (_, digest) in items.iter() {
            digests.push(digest.as_ref().to_vec());
        }
    }
    digests.sort();
    digests
}

#[tokio::test]
async fn isomdl_authenticates_a_refreshed_document() {
    let now = Utc::now().trunc_subsecs(0);
    let issued_at = now - Duration::days(22);
    let clock = Arc::new(MovableClock(Mutex::new(issued_at - Duration::hours(1))));
    let records = Arc::new(EmbeddedRecords::new());
    records
        .import_licences(&shared::sample::showcase_licences())
        .await
        .unwrap();
    // The register's photos on file, as the sample register ships them: the licence signs 张伟's.
    let photos = Arc::new(EmbeddedPhotos::new(DevKeys::random(), "http://127.0.0.1:9"));
    shared::sample::seed_photos(photos.as_ref()).await.unwrap();
    let signer = LocalSigner::new();
    signer.generate("iaca");
    signer.generate("ds");
    // The issue function's context: the signer, the photo store, the notices (kept in memory here).
    let services = Issuing {
        signing: Signing::new(
            Services::new(records.clone(), clock.clone(), Arc::new(NoLivenessService)),
            Arc::new(signer),
        ),
        photos,
        notices: Notices(Arc::new(EmbeddedNotices::default())),
    };
    services.install_iaca(&Authority::default(), "iaca").await.unwrap();
    services.add_document_signer(&Authority::default(), "ds").await.unwrap();

    // 张伟 applied at the counter with the photo on file (approved at once), 22 days ago.
    *clock.0.lock().unwrap() = issued_at;
    let holder = "11010519900307451X";
    let application = Application::open(Opening {
        id: "app-refresh".into(),
        licence_number: holder.into(),
        holder_id: holder.into(),
        city_code: "110000".into(),
        channel: Channel::Counter,
        photo_source: PhotoSource::OnFile,
        opened_by: Actor {
            id: "clerk-110000-0007".into(),
            role: Role::Clerk,
        },
        office: Some("110000".into()),
        at: issued_at,
        device_key: None,
        portrait: None,
    });
    records.create_application(&application).await.unwrap();
    let IssueOutcome::Issued { serial } = services.issue("app-refresh").await.unwrap() else {
        panic!("issued once");
    };
    let issued = records.electronic_licence(&serial).await.unwrap().unwrap();
    assert!(
        issued.document_valid_until <= now + Duration::days(8),
        "due for its refresh now"
    );

    // Today the refresh re-signs it.
    *clock.0.lock().unwrap() = now;
    let (outcome, signs) = services
        .refresh_document(&serial, RefreshCause::Schedule)
        .await
        .unwrap();
    assert_eq!(signs, 1);
    let RefreshOutcome::Refreshed(refreshed) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        (refreshed.serial.as_str(), refreshed.issued_at),
        (serial.as_str(), issued.issued_at)
    );
    assert_eq!(refreshed.document_signed_at, now);

    let trust = services.records.trust().await.unwrap();
    let ds = trust
        .iter()
        .find(|t| t.role == shared::verification::ports::TrustRole::DocumentSigner)
        .map(|t| STANDARD.decode(&t.certificate).unwrap())
        .unwrap();
    let bytes = |b64: &str| STANDARD.decode(b64).unwrap();
    let chain = || {
        isomdl::definitions::x509::X5Chain::builder()
            .with_der_certificate(&ds)
            .unwrap()
            .build()
            .unwrap()
    };
    // The refresh re-signs the portrait the licence was issued with.
    let portrait_before = mdoc::portrait_of(&bytes(&issued.issuer_signed));
    assert!(portrait_before.is_some(), "an on-file licence carries its portrait");
    assert_eq!(mdoc::portrait_of(&bytes(&refreshed.issuer_signed)), portrait_before);
    let before: isomdl::definitions::IssuerSigned = isomdl::cbor::from_slice(&bytes(&issued.issuer_signed)).unwrap();
    let after: isomdl::definitions::IssuerSigned = isomdl::cbor::from_slice(&bytes(&refreshed.issuer_signed)).unwrap();
    isomdl::presentation::authentication::mdoc::issuer_authentication(chain(), &before).unwrap();
    isomdl::presentation::authentication::mdoc::issuer_authentication(chain(), &after).unwrap();
    // isomdl reads the new validity, and every digest is new (new salts).
    let mso: isomdl::definitions::helpers::Tag24<isomdl::definitions::Mso> =
        isomdl::cbor::from_slice(after.issuer_auth.payload.as_ref().unwrap()).unwrap();
    let validity = mso.into_inner().validity_info;
    assert_eq!(validity.signed.unix_timestamp(), now.timestamp());
    assert_eq!(
        validity.valid_until.unix_timestamp(),
        refreshed.document_valid_until.timestamp()
    );
    let (old, new) = (digests_of(&before), digests_of(&after));
    assert_eq!(old.len(), new.len());
    assert!(
        old.iter().all(|d| !new.contains(d)),
        "the refresh salts every element anew"
    );
    // And ours agrees: the same serial, valid now.
    let verified = mdoc::verify_document(&bytes(&refreshed.issuer_signed), mdoc::DOC_TYPE, now, 0).unwrap();
    assert_eq!(
        verified.elements[mdoc::DOMESTIC_NAMESPACE]["licence_serial"].as_str(),
        Some(serial.as_str())
    );
    // Both documents isomdl authenticated carry a status list entry in their MSO (issue 12 item 3): the
    // refreshed one a new, randomly drawn entry, the one its record names.
    let first = mdoc::verify_document(
        &bytes(&issued.issuer_signed),
        mdoc::DOC_TYPE,
        issued.document_signed_at,
        0,
    )
    .unwrap()
    .status
    .expect("the issued document names its status list entry");
    let second = verified
        .status
        .expect("the refreshed document names its status list entry");
    assert_ne!(first, second, "a refresh draws a new entry");
    let entry = refreshed.status_entry.expect("the record's entry");
    assert_eq!(second.idx, entry.idx);
    assert!(
        second.uri.ends_with(&format!("/status-lists/{}", entry.list)),
        "{}",
        second.uri
    );
}
