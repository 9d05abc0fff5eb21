//! Issue 13, "Fault injection": DynamoDB, KMS and EventBridge on the emulator through a proxy that injects the
//! errors AWS sends (tests/support/faults.rs), the adapters and the SDK's own retries as deployed. KMS throttled
//! and unavailable during issuance, DynamoDB throttling the issuance transaction, `PutEvents` failing after a
//! decision (the crash between approval and event) and on a notice, each both fewer times than the SDK retries
//! (absorbed) and more (the work is left to the outbox); then the sweeps. Afterwards every approved application
//! is issued exactly once, every holder got exactly one `LicenceIssued` notice, no open-application lock is left
//! and both outboxes are empty.
//!
//! The ApplicationApproved events reach an SQS queue by a rule on the bus, as they reach the issue function in
//! AWS; the test plays the function over it with Lambda's asynchronous retries (three attempts, then dropped),
//! through the function's own handler. The notices reach a queue of their own, which stands for the push service.

use chrono::Duration;
use edl_tests::faults::{Fault, FaultProxy};
use edl_tests::{aws_config, aws_endpoint, harness, Harness, NOW};
use serde_json::Value;
use shared::adapters::dynamodb::DynamoRecords;
use shared::adapters::eventbridge::EventBus;
use shared::adapters::kms::{create_signing_key, KmsSigner};
use shared::applications::application::ApplicationState;
use shared::kernel::notice::NOTICE_SHARDS;
use shared::service::keys::Authority;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const SIGN: &str = "TrentService.Sign";
const TRANSACT: &str = "DynamoDB_20120810.TransactWriteItems";
const PUT_EVENTS: &str = "AWSEvents.PutEvents";
/// The SDK's standard retry mode: three attempts of each call.
const SDK_ATTEMPTS: usize = 3;
/// Lambda's asynchronous invocation: the event, then two retries.
const LAMBDA_ATTEMPTS: usize = 3;

/// A queue on the emulator that a rule on the bus fills with the events matching `pattern`.
struct RoutedQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl RoutedQueue {
    async fn create(config: &aws_config::SdkConfig, bus: &str, name: &str, pattern: &str) -> RoutedQueue {
        let sqs = aws_sdk_sqs::Client::new(config);
        let queue = format!("{bus}-{name}");
        let url = sqs
            .create_queue()
            .queue_name(&queue)
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("url");
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("attributes")
            .attributes
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
            .expect("arn");
        let events = aws_sdk_eventbridge::Client::new(config);
        events
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .event_pattern(pattern)
            .send()
            .await
            .expect("rule");
        events
            .put_targets()
            .rule(name)
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(arn)
                    .build()
                    .expect("target"),
            )
            .send()
            .await
            .expect("target");
        RoutedQueue { sqs, url }
    }

    /// Every event waiting, taken off the queue (until a one-second wait brings nothing).
    async fn drain(&self) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive");
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return events;
            }
            for message in messages {
                events.push(serde_json::from_str(message.body().unwrap_or("{}")).expect("event json"));
                self.sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }
}

struct World {
    h: Harness,
    proxy: FaultProxy,
    approvals: RoutedQueue,
    notices: RoutedQueue,
    /// The ids of applications each issue-function attempt failed on.
    failed_attempts: Vec<String>,
}

impl World {
    /// The issue function over the ApplicationApproved events waiting: each event handled as Lambda does,
    /// its failures retried twice and then dropped (the outbox is what is left).
    async fn run_issue_function(&mut self) -> usize {
        let events = self.approvals.drain().await;
        for event in &events {
            let approved: edl_issue::Approved =
                serde_json::from_value(event["detail"].clone()).expect("ApplicationApproved detail");
            for _ in 0..LAMBDA_ATTEMPTS {
                match edl_issue::handle(&self.h.services, approved.clone()).await {
                    Ok(_) => break,
                    Err(_) => self.failed_attempts.push(approved.application_id.clone()),
                }
            }
        }
        events.len()
    }

    fn set_clock(&self, minutes_after_now: i64) {
        let at = edl_tests::at(NOW) + Duration::minutes(minutes_after_now);
        self.h.clock.set(&at.to_rfc3339());
    }
}

async fn world() -> World {
    let direct = aws_config().await;
    let proxy = FaultProxy::start(&aws_endpoint()).await;
    let through = proxy.config(&direct);
    // The table is made directly; every call of the services goes through the proxy.
    let table = format!("edl-faults-{}", uuid::Uuid::new_v4().simple());
    DynamoRecords::create_table(&aws_sdk_dynamodb::Client::new(&direct), &table)
        .await
        .expect("table");
    let records = DynamoRecords::new(aws_sdk_dynamodb::Client::new(&through), table);
    let mut h = harness(Arc::new(records), 40).await;
    let iaca = create_signing_key(&direct, "faults IACA").await.expect("key");
    let ds = create_signing_key(&direct, "faults document signer")
        .await
        .expect("key");
    h.services.signer = Some(Arc::new(KmsSigner::new(&through)));
    h.services
        .install_iaca(&Authority::default(), &iaca)
        .await
        .expect("IACA");
    h.services
        .add_document_signer(&Authority::default(), &ds)
        .await
        .expect("document signer");
    let bus = format!("edl-faults-{}", uuid::Uuid::new_v4().simple());
    aws_sdk_eventbridge::Client::new(&direct)
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("bus");
    let approvals = RoutedQueue::create(
        &direct,
        &bus,
        "approved",
        r#"{"source":["edl.backend"],"detail-type":["ApplicationApproved"]}"#,
    )
    .await;
    let notices = RoutedQueue::create(
        &direct,
        &bus,
        "notices",
        r#"{"source":["edl.backend"],"detail-type":["LicenceIssued","PhotoRejected","LicenceSuperseded","PassDecided"]}"#,
    )
    .await;
    let events = Arc::new(EventBus::new(&through, &bus));
    h.services.issuer = Some(events.clone());
    h.services.notifier = Some(events);
    World {
        h,
        proxy,
        approvals,
        notices,
        failed_attempts: Vec::new(),
    }
}

/// The sample holders who may apply with the photo on file at once (eligible, city live).
async fn applicants(w: &World, wanted: usize) -> Vec<String> {
    let mut found = Vec::new();
    for licence in shared::sample::generate(40, 2026) {
        if found.len() == wanted {
            break;
        }
        // A holder who may not apply opens nothing; one approved here is issued by the caller.
        if let Some(id) = edl_tests::approved_on_file(&w.h, &licence.holder_id).await {
            found.push((licence.holder_id.clone(), id));
        }
    }
    assert_eq!(found.len(), wanted, "enough applicants in the sample register");
    found.into_iter().map(|(holder, _)| holder).collect()
}

#[tokio::test]
async fn under_injected_faults_every_approval_is_issued_once_and_every_holder_told_once() {
    let mut w = world().await;
    // Twelve holders approved without faults, then issued by the function: the baseline, and the register of
    // who may apply. Each holder re-applies below under one fault (a second licence supersedes the first).
    let holders = applicants(&w, 12).await;
    assert_eq!(w.run_issue_function().await, 12);
    assert!(w.failed_attempts.is_empty(), "{:?}", w.failed_attempts);
    let baseline = w.notices.drain().await;
    assert_eq!(baseline.len(), 12, "one LicenceIssued each: {baseline:#?}");

    // Each round: a fault injected, one holder applies again and is approved, the function runs.
    // `absorbed`: fewer faults than the SDK's attempts, so issuance happens at once; otherwise the
    // work is left to the outbox.
    let sdk = SDK_ATTEMPTS;
    let all = SDK_ATTEMPTS * LAMBDA_ATTEMPTS;
    struct Round {
        operation: &'static str,
        fault: Fault,
        times: usize,
        /// Injected after the approval (the issuance's calls) rather than before it (the approval's).
        after_approval: bool,
    }
    let rounds = [
        // KMS throttled, then unavailable, during issuance: absorbed by the SDK, then beyond every retry.
        Round {
            operation: SIGN,
            fault: Fault::KmsThrottling,
            times: sdk - 1,
            after_approval: true,
        },
        Round {
            operation: SIGN,
            fault: Fault::KmsThrottling,
            times: all,
            after_approval: true,
        },
        Round {
            operation: SIGN,
            fault: Fault::Unavailable,
            times: sdk - 1,
            after_approval: true,
        },
        Round {
            operation: SIGN,
            fault: Fault::Unavailable,
            times: all,
            after_approval: true,
        },
        // DynamoDB throttling the issuance transaction (and a dropped connection on it).
        Round {
            operation: TRANSACT,
            fault: Fault::DynamoThroughputExceeded,
            times: sdk - 1,
            after_approval: true,
        },
        Round {
            operation: TRANSACT,
            fault: Fault::DynamoThroughputExceeded,
            times: all,
            after_approval: true,
        },
        Round {
            operation: TRANSACT,
            fault: Fault::DynamoThrottling,
            times: all,
            after_approval: true,
        },
        Round {
            operation: TRANSACT,
            fault: Fault::Drop,
            times: sdk - 1,
            after_approval: true,
        },
        // The approval recorded, its event refused: the crash between approval and event.
        Round {
            operation: PUT_EVENTS,
            fault: Fault::EventsFailedEntry,
            times: 1,
            after_approval: false,
        },
        Round {
            operation: PUT_EVENTS,
            fault: Fault::EventsInternal,
            times: sdk,
            after_approval: false,
        },
        // Issued, but the holder's notice refused: beyond the SDK's retries, and a refused entry.
        Round {
            operation: PUT_EVENTS,
            fault: Fault::EventsInternal,
            times: sdk,
            after_approval: true,
        },
        Round {
            operation: PUT_EVENTS,
            fault: Fault::EventsFailedEntry,
            times: 1,
            after_approval: true,
        },
    ];
    assert_eq!(rounds.len(), holders.len());
    let mut applications = BTreeMap::new();
    for (round, (r, holder)) in rounds.iter().zip(&holders).enumerate() {
        w.set_clock(round as i64);
        if !r.after_approval {
            w.proxy.inject(r.operation, r.times, r.fault.clone());
        }
        let id = edl_tests::approved_on_file(&w.h, holder)
            .await
            .unwrap_or_else(|| panic!("round {round}: approved"));
        if r.after_approval {
            w.proxy.inject(r.operation, r.times, r.fault.clone());
        }
        let handled = w.run_issue_function().await;
        assert_eq!(
            w.proxy.waiting(r.operation),
            0,
            "round {round}: every fault was met ({handled} events; forwarded {:?})",
            [SIGN, TRANSACT, PUT_EVENTS, "TrentService.GetPublicKey", ""].map(|o| w.proxy.forwarded(o))
        );
        applications.insert(holder.clone(), id);
    }
    let left: Vec<&String> = {
        let mut left = Vec::new();
        for (holder, id) in &applications {
            let application =
                w.h.services
                    .records
                    .application(id)
                    .await
                    .expect("read")
                    .expect("stored");
            if application.state == ApplicationState::Approved {
                left.push(holder);
            }
        }
        left
    };
    // Beyond every retry: the two KMS rounds, the two throttled transactions, the two refused events.
    assert_eq!(left.len(), 6, "approvals left to the outbox: {left:?}");
    let told_before_sweep = w.notices.drain().await;

    // The sweeps: five minutes after the last approval, then five minutes on (the re-driven events are
    // issued by the function in between).
    let mut sweeps = Vec::new();
    for minutes in [20, 25, 30] {
        w.set_clock(minutes);
        let report = w.h.services.sweep_approvals().await.expect("sweep");
        w.run_issue_function().await;
        sweeps.push(report);
    }
    assert_eq!(sweeps[0].redriven, 6, "{sweeps:#?}");
    assert_eq!(sweeps.iter().map(|s| s.failures()).sum::<usize>(), 0, "{sweeps:#?}");
    assert_eq!((sweeps[2].read, sweeps[2].notices_read), (0, 0), "{sweeps:#?}");
    let told_after_sweep = w.notices.drain().await;

    // Every approved application issued exactly once.
    for (holder, id) in &applications {
        let application =
            w.h.services
                .records
                .application(id)
                .await
                .expect("read")
                .expect("stored");
        assert_eq!(application.state, ApplicationState::Issued, "{holder}");
        assert_eq!(application.history.iter().filter(|e| e.action == "issued").count(), 1);
        let serial =
            w.h.services
                .records
                .current_serial_of(holder)
                .await
                .expect("read")
                .expect("a licence");
        let licence =
            w.h.services
                .records
                .electronic_licence(&serial)
                .await
                .expect("read")
                .expect("licence");
        assert_eq!(
            &licence.application_id, id,
            "{holder}: the current licence is this application's"
        );
        assert!(licence.is_active());
        // No open-application lock left: the holder may apply again (and is refused only for holding one
        // open now, which the new application is).
        let again = edl_tests::call(
            &w.h.services,
            edl_tests::json_request(
                "POST /applications",
                &[],
                edl_tests::holder(holder),
                &serde_json::json!({ "photoSource": "on_file" }),
            ),
        )
        .await;
        assert_eq!(again.status, 201, "{holder}: {again:?}");
    }
    // Every holder told exactly once of this licence: one LicenceIssued event per application, under one id.
    let mut told: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut events = 0;
    for event in told_before_sweep.iter().chain(&told_after_sweep) {
        assert_eq!(event["detail-type"], "LicenceIssued", "{event}");
        let detail = &event["detail"];
        let application = detail["applicationId"].as_str().expect("applicationId").to_string();
        told.entry(application)
            .or_default()
            .insert(detail["noticeId"].as_str().expect("noticeId").to_string());
        events += 1;
    }
    assert_eq!(events, applications.len(), "no notice twice: {told:#?}");
    for id in applications.values() {
        assert_eq!(told.get(id).map(BTreeSet::len), Some(1), "{id}: one notice");
    }
    // Both outboxes are empty.
    let far = w.h.services.now() + Duration::days(1);
    for shard in 0..NOTICE_SHARDS {
        assert!(w
            .h
            .services
            .records
            .pending_notices(shard, far, 10)
            .await
            .expect("read")
            .is_empty());
        assert!(w
            .h
            .services
            .records
            .awaiting_issuance(shard, far, 10)
            .await
            .expect("read")
            .is_empty());
    }
    // What the SDK absorbed and what it did not: the failed function attempts are the six rounds' only.
    let failed: BTreeSet<&String> = w.failed_attempts.iter().collect();
    assert_eq!(
        failed.len(),
        4,
        "the KMS and transaction rounds beyond every retry: {failed:?}"
    );
    println!(
        "faults injected: Sign {}, TransactWriteItems {}, PutEvents {}; issue-function attempts failed: {}; \
         sweeps: {sweeps:?}",
        w.proxy.injected(SIGN),
        w.proxy.injected(TRANSACT),
        w.proxy.injected(PUT_EVENTS),
        w.failed_attempts.len()
    );
}
