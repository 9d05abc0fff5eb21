//! The counting behind the capacity model, against the emulator: each operation's calls are counted, consistent
//! between holders, and a fault the proxy injects is counted and leaves nothing half-written.

use edl_capacity::ledger::Call;
use edl_capacity::proxy::{Fault, FaultRule};
use edl_capacity::scenario::{measure, Bench, Flow, Options};

fn count(calls: &[Call], service: &str, operation: &str) -> usize {
    calls
        .iter()
        .filter(|c| c.service == service && c.operation == operation && c.injected.is_none())
        .count()
}

#[tokio::test]
async fn each_operation_of_the_photo_on_file_flow_is_counted_and_issuance_signs_once() {
    let measurement = measure(&Options {
        upstream: edl_tests::aws_endpoint(),
        flows: vec![Flow::OnFile],
        runs: 2,
        expiry_items: 0,
    })
    .await
    .expect("the flow ran against the emulator");
    let runs = |id: &str| {
        measurement
            .get(id)
            .unwrap_or_else(|| panic!("{id} measured"))
            .runs
            .clone()
    };
    for id in [
        "open-on-file",
        "liveness",
        "issue-on-file",
        "show-licence",
        "show-code",
        "show-code-reused",
        "verify-code",
        "verify-barcode",
        "verify-mdoc",
    ] {
        let runs = runs(id);
        assert_eq!(runs.len(), 2, "{id}");
        for calls in &runs {
            assert!(!calls.is_empty(), "{id} made AWS calls");
            for call in calls.iter().filter(|c| c.service == "dynamodb") {
                let usage = call
                    .dynamo
                    .as_ref()
                    .unwrap_or_else(|| panic!("{id}: {call:?} has its capacity"));
                assert!(
                    usage.read_units + usage.reported_write_units > 0.0,
                    "{id}: {call:?} used capacity"
                );
            }
        }
    }
    for calls in runs("issue-on-file") {
        assert_eq!(count(&calls, "kms", "Sign"), 1, "issuance signs once: {calls:?}");
        assert_eq!(
            count(&calls, "dynamodb", "TransactWriteItems"),
            1,
            "and records in one transaction"
        );
        let written: f64 = calls
            .iter()
            .filter_map(|c| c.dynamo.as_ref())
            .map(|d| d.reported_write_units)
            .sum();
        // A transactional write is at least 2 units an item; issuance writes several items.
        assert!(written >= 6.0, "{written}");
    }
    for calls in runs("liveness") {
        assert_eq!(
            count(&calls, "events", "PutEvents"),
            1,
            "the approval goes out as one event"
        );
        assert_eq!(calls.iter().map(|c| c.entries).sum::<usize>(), 1);
        assert_eq!(count(&calls, "kms", "Sign"), 0);
    }
    for calls in runs("show-code") {
        assert_eq!(count(&calls, "kms", "Sign"), 1, "a new code is signed");
    }
    for calls in runs("show-code-reused") {
        assert_eq!(count(&calls, "kms", "Sign"), 0, "a code under 4 minutes old is reused");
    }
    for id in ["verify-code", "verify-barcode", "verify-mdoc"] {
        for calls in runs(id) {
            assert_eq!(
                calls.iter().filter(|c| c.service == "kms").count(),
                0,
                "{id} needs no KMS"
            );
        }
    }
    // Every application needs the rollout plan, but an instance reads it once per staleness period
    // (EDL_CACHE_SECONDS), not once per application: the warm run reads no ROLLOUT.
    let template = edl_local_api::routes::TEMPLATE;
    let facts = edl_capacity::model::TemplateFacts::read(template).expect("template");
    let open = edl_capacity::model::summarise(
        measurement.get("open-on-file").expect("measured"),
        &Default::default(),
        &facts,
    );
    assert!(
        !open.shared_partitions.iter().any(|p| p.key == "ROLLOUT"),
        "{:?}",
        open.shared_partitions
    );
    // Approval takes the application out of its day's expiry bucket; the request only names the application: the
    // entry's partition comes from the item as it was. The bucket is sharded by the application's id
    // (`APP#<day>#<shard>`), so it is no partition every application of the day shares.
    let liveness_measured = measurement.get("liveness").expect("measured");
    let left_bucket = liveness_measured
        .runs
        .last()
        .expect("a run")
        .iter()
        .filter_map(|c| c.dynamo.as_ref())
        .flat_map(|d| &d.touches)
        .any(|t| {
            t.target == "expiry" && t.key.starts_with("APP#") && t.key.split('#').count() == 3 && t.write_units > 0.0
        });
    assert!(left_bucket, "liveness moves the entry out of its day's shard");
    let liveness = edl_capacity::model::summarise(liveness_measured, &Default::default(), &facts);
    assert!(
        !liveness.shared_partitions.iter().any(|p| p.target == "expiry"),
        "{:?}",
        liveness.shared_partitions
    );
    assert!(
        !open.shared_partitions.iter().any(|p| p.key.starts_with("LICENCE#")),
        "each holder's own partition is not shared: {:?}",
        open.shared_partitions
    );
}

#[tokio::test]
async fn a_throttled_signer_is_counted_and_leaves_the_application_to_be_issued_once() {
    let mut bench = Bench::start(&edl_tests::aws_endpoint(), 60)
        .await
        .expect("the bench on the emulator");
    let (holder, application, _) = bench.open(true).await.expect("an application");
    assert_eq!(bench.confirm_liveness(&holder, &application).await.0.status, 200);
    bench.calls();
    bench.proxy.inject(FaultRule {
        service: "kms".into(),
        operation: "Sign".into(),
        fault: Fault::Throttle,
        times: 20,
    });
    let failed = bench.issue(&application).await;
    bench.proxy.clear_faults();
    assert!(
        failed.is_err(),
        "a throttled signer fails the issuance for a retry: {failed:?}"
    );
    let calls = bench.calls();
    let throttled = calls
        .iter()
        .filter(|c| c.injected.as_deref() == Some("Throttle"))
        .count();
    assert!(throttled >= 1, "{calls:?}");
    assert_eq!(count(&calls, "kms", "Sign"), 0, "every signing attempt was throttled");
    assert_eq!(
        count(&calls, "dynamodb", "TransactWriteItems"),
        0,
        "nothing was written"
    );
    let issued = bench.issue(&application).await.expect("issued on the retry");
    assert!(issued.is_some());
    let calls = bench.calls();
    assert_eq!(count(&calls, "kms", "Sign"), 1);
    assert_eq!(count(&calls, "dynamodb", "TransactWriteItems"), 1);
}

/// IAM's `StringLike`: `*` any run of characters, `?` any one.
fn like(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let mut matches = vec![vec![false; v.len() + 1]; p.len() + 1];
    matches[0][0] = true;
    for i in 1..=p.len() {
        for j in 0..=v.len() {
            matches[i][j] = match p[i - 1] {
                '*' => matches[i - 1][j] || (j > 0 && matches[i][j - 1]),
                '?' => j > 0 && matches[i - 1][j - 1],
                c => j > 0 && v[j - 1] == c && matches[i - 1][j - 1],
            };
        }
    }
    matches[p.len()][v.len()]
}

/// The DynamoDB grants of a function in `template.yaml`: (action, "table" or the index's name, LeadingKeys patterns);
/// none for a function the template does not have.
fn grants_of(template: &serde_norway::Value, binary: &str) -> Vec<(String, String, Vec<String>)> {
    let text = |v: &serde_norway::Value| -> String {
        match v {
            serde_norway::Value::Tagged(tagged) => tagged.value.as_str().unwrap_or("").to_string(),
            other => other.as_str().unwrap_or("").to_string(),
        }
    };
    let list = |v: &serde_norway::Value| v.as_sequence().cloned().unwrap_or_default();
    let function = template["Resources"]
        .as_mapping()
        .and_then(|resources| {
            resources
                .values()
                .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        })
        .cloned()
        .unwrap_or_default();
    let mut grants = Vec::new();
    for policy in list(&function["Properties"]["Policies"]) {
        for statement in list(&policy["Statement"]) {
            let target = match text(&statement["Resource"]).as_str() {
                "RecordsTable.Arn" => "table".to_string(),
                other => match other.strip_prefix("${RecordsTable.Arn}/index/") {
                    Some(index) => index.to_string(),
                    None => continue,
                },
            };
            let keys: Vec<String> = list(&statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
                .iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect();
            for action in list(&statement["Action"]) {
                grants.push((text(&action), target.clone(), keys.clone()));
            }
        }
    }
    grants
}

/// Every DynamoDB call each operation made, in every run (the first, cold, one too), is one its function's
/// policy in `template.yaml` allows on the partition it touched: a partition missing from a function's
/// `dynamodb:LeadingKeys` would be an outage in AWS, which the emulator (no IAM) would not show.
#[tokio::test]
async fn every_call_counted_is_allowed_by_its_functions_partitions() {
    let measurement = measure(&Options {
        upstream: edl_tests::aws_endpoint(),
        flows: vec![Flow::OnFile, Flow::NewPhoto, Flow::Truck, Flow::Expiry],
        runs: 2,
        expiry_items: 3,
    })
    .await
    .expect("the flows ran against the emulator");
    let template: serde_norway::Value = serde_norway::from_str(edl_local_api::routes::TEMPLATE).expect("template.yaml");
    let mut checked = 0;
    for spec in edl_capacity::scenario::OPERATIONS {
        let (Some(function), Some(measured)) = (spec.function, measurement.get(spec.id)) else {
            continue;
        };
        let grants = grants_of(&template, function);
        assert!(!grants.is_empty(), "{function}: its table permissions in template.yaml");
        for call in measured.runs.iter().flatten().filter(|c| c.service == "dynamodb") {
            let Some(usage) = &call.dynamo else { continue };
            // A transaction's items are puts and deletes (never updates) in this code.
            let actions: Vec<String> = match call.operation.as_str() {
                "TransactWriteItems" => vec!["dynamodb:PutItem".into(), "dynamodb:DeleteItem".into()],
                other => vec![format!("dynamodb:{other}")],
            };
            for touch in &usage.touches {
                let target = if touch.target.starts_with(edl_capacity::scenario::TABLE_PREFIX) {
                    "table"
                } else if call.operation == "Query" {
                    touch.target.as_str()
                } else {
                    // An index entry a write moved: IAM checks the item's table partition, counted apart.
                    continue;
                };
                let allowed = grants.iter().any(|(action, on, keys)| {
                    actions.contains(action) && on == target && keys.iter().any(|k| like(k, &touch.key))
                });
                assert!(
                    allowed,
                    "{}: {function} made {} on {target} partition {}, which its policy does not allow",
                    spec.id, call.operation, touch.key
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "{checked} partitions checked");
}
