//! Concurrent requests against the emulator: the store, not the handler, keeps one open application per holder.

use edl_tests::{dynamo_harness, embedded_harness, holder, json_request, Harness, ZHANG_WEI};
use serde_json::json;

/// Twenty simultaneous `POST /applications` for one holder end with exactly one application.
async fn twenty_simultaneous_applications_make_one(harness: Harness) {
    let harness = &harness;
    let requests = (0..20).map(|i| {
        let source = if i % 2 == 0 { "on_file" } else { "camera" };
        harness.call(json_request(
            "POST /applications",
            &[],
            holder(ZHANG_WEI),
            &json!({ "photoSource": source }),
        ))
    });
    let answers = futures::future::join_all(requests).await;
    let created: Vec<_> = answers.iter().filter(|a| a.status == 201).collect();
    assert_eq!(created.len(), 1, "exactly one application: {answers:?}");
    let id = created[0].body["id"].as_str().expect("id").to_string();
    for refused in answers.iter().filter(|a| a.status != 201) {
        assert_eq!(refused.status, 409, "{refused:?}");
        assert!(
            matches!(refused.problem(), "open-application-exists" | "conflict"),
            "{refused:?}"
        );
        if refused.problem() == "open-application-exists" {
            assert_eq!(refused.body["application"].as_str(), Some(id.as_str()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_simultaneous_applications_on_dynamodb_make_one() {
    twenty_simultaneous_applications_make_one(dynamo_harness().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_simultaneous_applications_on_embedded_make_one() {
    twenty_simultaneous_applications_make_one(embedded_harness().await).await;
}
