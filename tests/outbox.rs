//! Issue 13 item 1: an approval always ends as exactly one licence. A failed hand-off to issuance leaves the
//! application approved in the outbox; the sweep re-drives it once the clock is past five minutes; a sweep
//! racing the late event still makes one licence with one `issued` entry; a sweep with nothing pending does nothing.
//! The same for the holder's notices: one whose push fails stays pending (recorded in the write that warranted
//! it) and the sweep delivers it under its first id, once delivered never again.

use async_trait::async_trait;
use chrono::Duration;
use edl_tests::{Harness, NOW, ZHANG_WEI};
use shared::applications::application::{Application, ApplicationState};
use shared::applications::ports::{Issuer, IssuerError};
use shared::issuance::edl::EdlStatus;
use shared::kernel::notice::{Notice, Notifier, NotifierError, PendingNotice};
use shared::kernel::signing::{Signer, SignerError};
use shared::service::issuance::IssueOutcome;
use shared::service::keys::Authority;
use shared::service::{ServiceError, Services};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The hand-off to issuance with its failures injected: the first `failures` requests are refused (as a
/// failed `PutEvents`); later ones issue at once through the services, as the issue function does on the event.
struct FlakyIssuer {
    failures: usize,
    yields: usize,
    calls: AtomicUsize,
    services: OnceLock<Services>,
    outcomes: Mutex<Vec<IssueOutcome>>,
}

impl FlakyIssuer {
    fn install(h: &mut Harness, failures: usize, yields: usize) -> Arc<FlakyIssuer> {
        let issuer = Arc::new(FlakyIssuer {
            failures,
            yields,
            calls: AtomicUsize::new(0),
            services: OnceLock::new(),
            outcomes: Mutex::new(Vec::new()),
        });
        h.services.issuer = Some(issuer.clone());
        assert!(issuer.services.set(h.services.clone()).is_ok());
        issuer
    }

    fn outcomes(&self) -> Vec<IssueOutcome> {
        self.outcomes.lock().expect("outcomes").clone()
    }
}

#[async_trait]
impl Issuer for FlakyIssuer {
    async fn request_issuance(&self, application: &Application) -> Result<(), IssuerError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(IssuerError::Failed("PutEvents: service unavailable (injected)".into()));
        }
        // Give way before issuing, as a real hand-off does: on the embedded store (which never waits) this is
        // where a racing late event gets in between the sweep's read of the application and its issuance.
        for _ in 0..self.yields {
            tokio::task::yield_now().await;
        }
        let services = self.services.get().expect("services");
        let outcome = services
            .issue(&application.id)
            .await
            .map_err(|e| IssuerError::Failed(e.to_string()))?;
        self.outcomes.lock().expect("outcomes").push(outcome);
        Ok(())
    }
}

/// A signer that gives way before each signature, as KMS over the network does: two issuances of one
/// application both get to sign before either records, so the conditional write is what keeps it to one.
struct YieldingSigner(shared::crypto::LocalSigner);

#[async_trait]
impl Signer for YieldingSigner {
    async fn sign_digest(&self, key_id: &str, digest: &[u8; 32]) -> Result<[u8; 64], SignerError> {
        tokio::task::yield_now().await;
        self.0.sign_digest(key_id, digest).await
    }
    async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, SignerError> {
        self.0.public_key(key_id).await
    }
}

/// A local IACA and document signer, as the issue function has through KMS.
async fn with_signer(h: &mut Harness) {
    let signer = shared::crypto::LocalSigner::new();
    signer.generate("iaca");
    signer.generate("ds");
    h.services.signer = Some(Arc::new(YieldingSigner(signer)));
    h.services
        .install_iaca(&Authority::default(), "iaca")
        .await
        .expect("IACA");
    h.services
        .add_document_signer(&Authority::default(), "ds")
        .await
        .expect("DS");
}

fn set_clock(h: &Harness, minutes_after_now: i64) {
    let at = edl_tests::at(NOW) + Duration::minutes(minutes_after_now);
    h.clock.set(&at.to_rfc3339());
}

/// 张伟 applies with the photo on file and passes the liveness check: approved, handed to the issuer.
async fn approve(h: &Harness) -> String {
    edl_tests::approved_on_file(h, ZHANG_WEI).await.expect("approved")
}

async fn stored(h: &Harness, id: &str) -> Application {
    h.services
        .records
        .application(id)
        .await
        .expect("read")
        .expect("application")
}

fn issued_entries(application: &Application) -> usize {
    application.history.iter().filter(|e| e.action == "issued").count()
}

async fn a_failed_hand_off_is_swept_into_exactly_one_licence(mut h: Harness) {
    with_signer(&mut h).await;
    let issuer = FlakyIssuer::install(&mut h, 1, 0);
    let id = approve(&h).await;
    // The event was never put: the application waits, approved, and no licence exists.
    assert_eq!(issuer.calls.load(Ordering::SeqCst), 1);
    assert_eq!(stored(&h, &id).await.state, ApplicationState::Approved);
    assert_eq!(
        h.services.records.current_serial_of(ZHANG_WEI).await.expect("read"),
        None
    );

    // Four minutes on, the sweep leaves it to the event and Lambda's retries.
    set_clock(&h, 4);
    let early = h.services.sweep_approvals().await.expect("sweep");
    assert_eq!((early.read, early.redriven), (0, 0), "{early:?}");
    assert_eq!(issuer.calls.load(Ordering::SeqCst), 1);

    // Past five minutes, the sweep re-drives it: one licence.
    set_clock(&h, 6);
    let swept = h.services.sweep_approvals().await.expect("sweep");
    assert_eq!((swept.read, swept.redriven, swept.failed), (1, 1, 0), "{swept:?}");
    let application = stored(&h, &id).await;
    assert_eq!(application.state, ApplicationState::Issued);
    assert_eq!(issued_entries(&application), 1);
    let serial = h
        .services
        .records
        .current_serial_of(ZHANG_WEI)
        .await
        .expect("read")
        .expect("a licence");
    let licence = h
        .services
        .records
        .electronic_licence(&serial)
        .await
        .expect("read")
        .expect("licence");
    assert_eq!(licence.application_id, id);
    assert!(matches!(issuer.outcomes().as_slice(), [IssueOutcome::Issued { serial: s }] if *s == serial));

    // Issued, it has left the outbox: the next sweep reads nothing and writes nothing.
    set_clock(&h, 12);
    let version = application.version;
    let again = h.services.sweep_approvals().await.expect("sweep");
    assert_eq!((again.read, again.redriven, again.issued), (0, 0, 0), "{again:?}");
    assert_eq!(stored(&h, &id).await.version, version);
    assert_eq!(issuer.calls.load(Ordering::SeqCst), 2);
}

async fn a_sweep_racing_the_late_event_issues_once(mut h: Harness) {
    with_signer(&mut h).await;
    let mut previous: Option<String> = None;
    for round in 0..8i64 {
        // Each round: the hand-off fails, then the sweep and the late event (Lambda's retry) arrive together,
        // the sweep's issuance giving way a different number of times.
        let issuer = FlakyIssuer::install(&mut h, 1, round as usize % 3);
        set_clock(&h, round * 10);
        let id = approve(&h).await;
        assert_eq!(stored(&h, &id).await.state, ApplicationState::Approved);
        set_clock(&h, round * 10 + 6);
        let (swept, event) = tokio::join!(h.services.sweep_approvals(), h.services.issue(&id));
        let swept = swept.expect("sweep");
        let event = event.expect("the late event issues or finds it issued");
        assert_eq!(swept.failed, 0, "round {round}: {swept:?}");
        let mut outcomes = issuer.outcomes();
        outcomes.push(event);
        let made: Vec<&String> = outcomes
            .iter()
            .filter_map(|o| match o {
                IssueOutcome::Issued { serial } => Some(serial),
                IssueOutcome::AlreadyIssued { .. } => None,
            })
            .collect();
        assert_eq!(made.len(), 1, "round {round}: exactly one licence made: {outcomes:?}");
        let serial = made[0].clone();
        let application = stored(&h, &id).await;
        assert_eq!(application.state, ApplicationState::Issued);
        assert_eq!(issued_entries(&application), 1, "round {round}: one audit entry");
        assert_eq!(
            h.services.records.current_serial_of(ZHANG_WEI).await.expect("read"),
            Some(serial.clone())
        );
        // The licence before it was superseded by this one, and by no other.
        if let Some(old) = previous.replace(serial.clone()) {
            let old = h
                .services
                .records
                .electronic_licence(&old)
                .await
                .expect("read")
                .expect("licence");
            assert!(
                matches!(&old.status, EdlStatus::Superseded { by_serial: Some(s), .. } if *s == serial),
                "round {round}: {:?}",
                old.status
            );
        }
    }
}

async fn a_sweep_with_nothing_pending_does_nothing(mut h: Harness) {
    // Without an issuer or a signer the sweep cannot re-drive: it says so instead of reading.
    assert!(matches!(
        h.services.sweep_approvals().await,
        Err(ServiceError::Unavailable(_))
    ));
    with_signer(&mut h).await;
    let issuer = FlakyIssuer::install(&mut h, 0, 0);
    let report = h.services.sweep_approvals().await.expect("sweep");
    assert_eq!(
        (
            report.read,
            report.redriven,
            report.issued,
            report.already_done,
            report.failed
        ),
        (0, 0, 0, 0, 0)
    );
    assert!(report.complete);
    assert_eq!(issuer.calls.load(Ordering::SeqCst), 0);
    // An application approved and issued at once never waits in the outbox.
    let id = approve(&h).await;
    assert_eq!(stored(&h, &id).await.state, ApplicationState::Issued);
    set_clock(&h, 30);
    let report = h.services.sweep_approvals().await.expect("sweep");
    assert_eq!((report.read, report.redriven), (0, 0), "{report:?}");
    assert_eq!(issuer.calls.load(Ordering::SeqCst), 1);
    // Its notice was delivered at once and cleared: nothing for the sweep to deliver again.
    assert_eq!(report.notices_read, 0, "{report:?}");
    assert_eq!(h.notices.delivered().len(), 1);
}

/// The push with its failures injected: the first `failures` notices are refused (as a failed `PutEvents`),
/// later ones reach the harness's list. Every attempt is kept, with the notice's id.
struct FlakyNotifier {
    failures: usize,
    attempts: Mutex<Vec<String>>,
    delivered: Arc<shared::adapters::embedded::notices::EmbeddedNotices>,
}

#[async_trait]
impl Notifier for FlakyNotifier {
    async fn notify(&self, notice: &PendingNotice) -> Result<(), NotifierError> {
        let attempt = {
            let mut attempts = self.attempts.lock().expect("attempts");
            attempts.push(notice.id.clone());
            attempts.len()
        };
        if attempt <= self.failures {
            return Err(NotifierError::Unavailable(
                "PutEvents: FailedEntryCount 1 (injected)".into(),
            ));
        }
        self.delivered.notify(notice).await
    }
}

async fn a_failed_notice_is_delivered_by_the_sweep_once(mut h: Harness) {
    with_signer(&mut h).await;
    let notifier = Arc::new(FlakyNotifier {
        failures: 2,
        attempts: Mutex::new(Vec::new()),
        delivered: h.notices.clone(),
    });
    h.services.notifier = Some(notifier.clone());
    FlakyIssuer::install(&mut h, 0, 0);
    let id = approve(&h).await;
    // Issued, but the success notice's push failed: it is pending, not lost.
    assert_eq!(stored(&h, &id).await.state, ApplicationState::Issued);
    assert!(h.notices.delivered().is_empty());
    assert_eq!(notifier.attempts.lock().expect("attempts").len(), 1);

    // Within five minutes the sweep leaves it alone.
    set_clock(&h, 4);
    let early = h.services.sweep_approvals().await.expect("sweep");
    assert_eq!(early.notices_read, 0, "{early:?}");
    // Past five minutes it delivers again; the push fails once more: still pending, counted as a failure.
    set_clock(&h, 6);
    let failed = h.services.sweep_approvals().await.expect("sweep");
    assert_eq!(
        (failed.notices_read, failed.notices_delivered, failed.notices_failed),
        (1, 0, 1),
        "{failed:?}"
    );
    assert_eq!(failed.failures(), 1);
    // The next sweep delivers it, under the id it was recorded with.
    set_clock(&h, 11);
    let swept = h.services.sweep_approvals().await.expect("sweep");
    assert_eq!(
        (swept.notices_read, swept.notices_delivered, swept.notices_failed),
        (1, 1, 0),
        "{swept:?}"
    );
    assert_eq!(swept.failures(), 0);
    let delivered = h.notices.delivered();
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let notice = &delivered[0].1;
    assert!(
        matches!(&notice.notice, Notice::LicenceIssued { application_id, holder_id, .. }
            if *application_id == id && holder_id == ZHANG_WEI),
        "{notice:?}"
    );
    let attempts = notifier.attempts.lock().expect("attempts").clone();
    assert_eq!(attempts, vec![notice.id.clone(); 3], "one id over every attempt");
    assert_eq!(notice.detail().expect("detail")["noticeId"], notice.id.as_str());
    // Delivered, it has left the outbox.
    set_clock(&h, 20);
    let after = h.services.sweep_approvals().await.expect("sweep");
    assert_eq!(after.notices_read, 0, "{after:?}");
    assert_eq!(h.notices.delivered().len(), 1);
}

edl_tests::on_both_adapters!(
    |records| edl_tests::harness(Arc::new(records), 5).await;
    a_failed_hand_off_is_swept_into_exactly_one_licence,
    a_sweep_racing_the_late_event_issues_once,
    a_sweep_with_nothing_pending_does_nothing,
    a_failed_notice_is_delivered_by_the_sweep_once,
);
