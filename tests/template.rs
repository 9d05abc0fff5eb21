//! Least privilege, asserted on the template after the SAM transform (run offline by the test command).

use serde_json::Value;

fn transformed() -> Value {
    let path = std::env::var("EDL_TRANSFORMED_TEMPLATE").unwrap_or_else(|_| {
        panic!(
            "EDL_TRANSFORMED_TEMPLATE is not set: run the suite with `scripts/test.sh`, which transforms \
             template.yaml offline with aws-sam-translator (scripts/sam_transform.py) before the tests"
        )
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// (role logical id, action, resource) for every inline policy statement.
fn statements(template: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    let resources = template["Resources"].as_object().expect("Resources");
    for (name, resource) in resources {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for policy in as_list(&resource["Properties"]["Policies"]) {
            for statement in as_list(&policy["PolicyDocument"]["Statement"]) {
                assert_eq!(
                    statement["Effect"], "Allow",
                    "{name}: only Allow statements are expected"
                );
                for action in as_list(&statement["Action"]) {
                    for resource in as_list(&statement["Resource"]) {
                        out.push((name.clone(), action.as_str().unwrap_or("").to_string(), resource));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn no_scan_no_wildcards_and_each_function_only_what_it_uses() {
    let template = transformed();
    let statements = statements(&template);
    assert!(!statements.is_empty(), "the functions' roles carry inline policies");
    for (role, action, resource) in &statements {
        assert_ne!(action, "dynamodb:Scan", "{role} may not Scan");
        assert!(!action.contains('*'), "{role} has a wildcard action {action}");
        // The actions without resource-level permissions (PutMetricData is held to the stack's
        // namespace by a condition, asserted below).
        if !action.starts_with("rekognition:") && action != "cloudwatch:PutMetricData" {
            assert_ne!(
                resource,
                &Value::String("*".into()),
                "{role}: {action} on every resource"
            );
        }
        if action.starts_with("dynamodb:") {
            let table = serde_json::json!({ "Fn::GetAtt": ["RecordsTable", "Arn"] });
            let index = resource["Fn::Sub"]
                .as_str()
                .is_some_and(|s| s.starts_with("${RecordsTable.Arn}/index/"));
            assert!(
                resource == &table || index,
                "{role}: {action} only on the records table: {resource}"
            );
        }
        if action.starts_with("s3:") {
            let arn = resource["Fn::Sub"].as_str().unwrap_or("");
            assert!(
                arn.contains(":s3:::edl-photos-${AWS::AccountId}-${AWS::Region}/photos/*")
                    || arn.contains(":s3:::edl-photos-${AWS::AccountId}-${AWS::Region}/checked/*")
                    || arn.contains(":s3:::edl-photos-${AWS::AccountId}-${AWS::Region}/portraits/*")
                    || arn.contains(":s3:::edl-photos-${AWS::AccountId}-${AWS::Region}/register/*")
                    || arn.contains(":s3:::edl-photos-${AWS::AccountId}-${AWS::Region}/imports/*"),
                "{role}: {action} only on the photo bucket's prefixes: {resource}"
            );
        }
    }
    let of = |role: &str| -> Vec<&str> {
        statements
            .iter()
            .filter(|s| s.0 == role)
            .map(|s| s.1.as_str())
            .collect()
    };
    let apply = of("ApplyFunctionRole");
    assert!(!apply.is_empty(), "ApplyFunctionRole exists");
    assert!(
        apply.iter().all(|a| a.starts_with("dynamodb:")
            || *a == "events:PutEvents"
            || *a == "s3:GetObject"
            || *a == "rekognition:CreateFaceLivenessSession"
            || *a == "rekognition:GetFaceLivenessSessionResults"
            || *a == "rekognition:CompareFaces"),
        "apply touches only DynamoDB, its event bus, the photos on file and the liveness service: {apply:?}"
    );
    // R3: the apply function alone runs real-person checks, and reads only the register's photos on file.
    for (role, action, resource) in &statements {
        if action.starts_with("rekognition:") {
            assert_eq!(role, "ApplyFunctionRole", "{role} has {action}");
        }
        if role == "ApplyFunctionRole" && action.starts_with("s3:") {
            let arn = resource["Fn::Sub"].as_str().unwrap_or("");
            assert!(
                arn.ends_with("/register/*"),
                "apply reads only photos on file: {resource}"
            );
        }
    }
    for action in [
        "rekognition:CreateFaceLivenessSession",
        "rekognition:GetFaceLivenessSessionResults",
        "rekognition:CompareFaces",
    ] {
        assert!(apply.contains(&action), "apply needs {action}");
    }
    // Apply updates nothing, and queries only the rollout plan (`ROLLOUT`, once per staleness period; PARTITIONS
    // holds it to that partition).
    assert!(!apply.contains(&"dynamodb:UpdateItem"));
    // The admin function keeps the register's photos on file (R3) and signs import uploads, and nothing else in
    // S3; no KMS.
    assert!(
        of("AdminFunctionRole")
            .iter()
            .all(|a| a.starts_with("dynamodb:") || *a == "events:PutEvents" || *a == "s3:PutObject"),
        "admin has no KMS and writes S3 only to keep the register's photos and sign import uploads"
    );
    for (role, action, resource) in &statements {
        let arn = resource["Fn::Sub"].as_str().unwrap_or("");
        if arn.contains("/imports/") {
            assert!(
                (role == "AdminFunctionRole" && action == "s3:PutObject" && arn.ends_with("/imports/*.jsonl"))
                    || (role == "ExpireFunctionRole"
                        && ((action == "s3:GetObject" && arn.ends_with("/imports/*"))
                            || (action == "s3:PutObject" && arn.ends_with("/imports/*/rejected/*")))),
                "{role}: {action} on {arn}"
            );
        }
    }
    // The licence function reads no photo: its pages take the portrait signed into the mdoc.
    assert!(
        of("LicenceFunctionRole").iter().all(|a| !a.starts_with("s3:")),
        "licence reads no photos"
    );
    // Verification: no KMS; truck passes: no S3. (Their table partitions: `PARTITIONS`.)
    let verify = of("VerifyFunctionRole");
    assert!(
        verify.iter().all(|a| matches!(
            *a,
            "dynamodb:GetItem" | "dynamodb:Query" | "dynamodb:PutItem" | "dynamodb:DeleteItem" | "dynamodb:UpdateItem"
        )),
        "verify: {verify:?}"
    );
    let pass = of("PassFunctionRole");
    assert!(!pass.is_empty(), "PassFunctionRole exists");
    // BatchGetItem: a review queue page's passes, read whole from the keys-only queue index.
    assert!(
        pass.iter().all(|a| matches!(
            *a,
            "dynamodb:GetItem"
                | "dynamodb:Query"
                | "dynamodb:BatchGetItem"
                | "dynamodb:PutItem"
                | "dynamodb:DeleteItem"
                | "events:PutEvents"
        )),
        "pass: {pass:?}"
    );
    // Only the upload function may write uploads; only the checks write clean copies; only review keeps
    // portraits; only the register imports (the synchronous one, and large imports' chunks) keep the register's
    // photos on file; the admin function signs import uploads, and large imports write their reports.
    for (role, action, resource) in &statements {
        let arn = resource["Fn::Sub"].as_str().unwrap_or("");
        if action == "s3:PutObject" {
            match role.as_str() {
                "PhotoUploadFunctionRole" => assert!(arn.ends_with("/photos/*")),
                "PhotoCheckFunctionRole" => assert!(arn.ends_with("/checked/*"), "{arn}"),
                "ReviewFunctionRole" => assert!(arn.ends_with("/portraits/*")),
                "AdminFunctionRole" => assert!(arn.ends_with("/register/*") || arn.ends_with("/imports/*.jsonl")),
                "ExpireFunctionRole" => assert!(arn.ends_with("/register/*") || arn.ends_with("/imports/*/rejected/*")),
                other => panic!("{other} may not write to the photo bucket"),
            }
        }
        // Issue 15 item 6: the upload is read by the checks alone; reviewers and the portrait see the clean
        // copy, and issuance the portrait.
        if action == "s3:GetObject" && arn.ends_with("/photos/*") {
            assert_eq!(role, "PhotoCheckFunctionRole", "{role} reads uploads");
        }
    }
    let check_roles: Vec<&str> = statements
        .iter()
        .filter(|(_, action, resource)| {
            action == "s3:GetObject" && resource["Fn::Sub"].as_str().unwrap_or("").ends_with("/checked/*")
        })
        .map(|(role, _, _)| role.as_str())
        .collect();
    assert_eq!(check_roles, ["ReviewFunctionRole"], "review opens the clean copies");
    // No role carries a KMS statement: the key policies name who may use each key.
    for (role, action, _) in &statements {
        assert!(
            !action.starts_with("kms:"),
            "{role}: {action} (KMS use is granted by the key policies)"
        );
    }
    let resources = template["Resources"].as_object().expect("Resources");
    for (name, resource) in resources {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for policy in as_list(&resource["Properties"]["Policies"]) {
            for statement in as_list(&policy["PolicyDocument"]["Statement"]) {
                let actions = as_list(&statement["Action"]);
                if actions.iter().any(|a| a == "cloudwatch:PutMetricData") {
                    assert_eq!(name, "RefreshFunctionRole", "only the key check publishes metrics");
                    assert_eq!(
                        statement["Condition"]["StringEquals"]["cloudwatch:namespace"],
                        serde_json::json!({ "Fn::Sub": "EDL/${AWS::StackName}" }),
                        "{name}: metrics only in the stack's namespace"
                    );
                }
            }
        }
    }
    // The refresh writes only licences and status lists, and reads only its own index.
    for statement in
        as_list(&resources["RefreshFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"])
    {
        let actions = as_list(&statement["Action"]);
        if actions.iter().any(|a| a == "dynamodb:PutItem") {
            let keys = as_list(&statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]);
            assert!(
                keys.iter().all(|k| matches!(
                    k.as_str(),
                    Some("EDL#*" | "STATUSLIST#*" | "STATUSSLOT#*" | "STATUSTOKEN#*")
                )),
                "refresh writes only electronic licences and status lists: {keys:?}"
            );
        }
    }
    for (role, action, resource) in &statements {
        if role == "RefreshFunctionRole" {
            assert!(
                matches!(
                    action.as_str(),
                    "dynamodb:GetItem"
                        | "dynamodb:Query"
                        | "dynamodb:PutItem"
                        | "dynamodb:UpdateItem"
                        | "dynamodb:ConditionCheckItem"
                        | "cloudwatch:PutMetricData"
                ),
                "refresh (no S3: it re-signs the portrait the current document carries): {action}"
            );
            if resource["Fn::Sub"].as_str().is_some_and(|s| s.contains("/index/")) {
                assert!(
                    [
                        serde_json::json!({ "Fn::Sub": "${RecordsTable.Arn}/index/refresh" }),
                        serde_json::json!({ "Fn::Sub": "${RecordsTable.Arn}/index/issue" })
                    ]
                    .contains(resource),
                    "{resource}"
                );
            }
        }
    }
}

/// The pages function draws the licence's PNG pages from what the licence function sends it, and reaches nothing:
/// it decodes a portrait, so it holds no grant a crafted image could use. The licence function alone may invoke it,
/// and nothing else may be invoked by any function.
#[test]
fn the_pages_function_reaches_nothing_and_only_the_licence_function_invokes_it() {
    let template = transformed();
    let resources = &template["Resources"];
    let pages = &resources["PagesFunction"];
    assert_eq!(pages["Type"], "AWS::Lambda::Function");
    assert!(
        pages["Properties"]["Environment"]["Variables"]
            .as_object()
            .is_none_or(|variables| !variables.contains_key("PAGES_FUNCTION")),
        "{pages}"
    );
    let role = &resources["PagesFunctionRole"]["Properties"];
    assert!(
        as_list(&role["Policies"]).is_empty(),
        "the pages function's role has no inline policy: {role}"
    );
    let managed = as_list(&role["ManagedPolicyArns"]);
    assert!(
        managed.len() == 1
            && managed[0]
                .as_str()
                .is_some_and(|arn| arn.ends_with(":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")),
        "its log, nothing more: {managed:?}"
    );
    // A route, a schedule or a bus rule would each grant its service a permission on the function.
    assert!(
        resources
            .as_object()
            .expect("Resources")
            .values()
            .filter(|r| r["Type"] == "AWS::Lambda::Permission")
            .all(|r| r["Properties"]["FunctionName"] != serde_json::json!({ "Ref": "PagesFunction" })),
        "no route or other service invokes the pages function"
    );
    let invokes: Vec<(String, Value)> = statements(&template)
        .into_iter()
        .filter(|(_, action, _)| action.starts_with("lambda:"))
        .map(|(role, action, resource)| {
            assert_eq!(action, "lambda:InvokeFunction", "{role}");
            (role, resource)
        })
        .collect();
    assert_eq!(
        invokes,
        vec![(
            "LicenceFunctionRole".to_string(),
            serde_json::json!({ "Fn::GetAtt": ["PagesFunction", "Arn"] })
        )]
    );
    assert_eq!(
        resources["LicenceFunction"]["Properties"]["Environment"]["Variables"]["PAGES_FUNCTION"],
        serde_json::json!({ "Ref": "PagesFunction" })
    );
}

#[test]
fn signer_and_iaca_expiry_raise_alarms_a_configurable_number_of_days_ahead() {
    use shared::service::keys::{DAYS_UNTIL_IACA_EXPIRY, DAYS_UNTIL_NO_USABLE_SIGNER};
    let template = transformed();
    let resources = &template["Resources"];
    for (alarm, metric, parameter) in [
        (
            "NoUsableSignerSoonAlarm",
            DAYS_UNTIL_NO_USABLE_SIGNER,
            "SignerAlarmDays",
        ),
        ("IacaExpirySoonAlarm", DAYS_UNTIL_IACA_EXPIRY, "IacaAlarmDays"),
    ] {
        let properties = &resources[alarm]["Properties"];
        assert_eq!(resources[alarm]["Type"], "AWS::CloudWatch::Alarm", "{alarm}");
        assert_eq!(properties["MetricName"], metric, "{alarm}");
        assert_eq!(
            properties["Namespace"],
            serde_json::json!({ "Fn::Sub": "EDL/${AWS::StackName}" }),
            "{alarm}: the namespace the refresh function publishes to"
        );
        assert_eq!(
            properties["Threshold"],
            serde_json::json!({ "Ref": parameter }),
            "{alarm}"
        );
        assert_eq!(properties["ComparisonOperator"], "LessThanThreshold", "{alarm}");
        assert_eq!(
            properties["TreatMissingData"], "breaching",
            "{alarm}: a check that stops reporting alarms"
        );
        assert_eq!(template["Parameters"][parameter]["Type"], "Number", "{parameter}");
    }
    let refresh = &resources["RefreshFunction"]["Properties"];
    let variables = &refresh["Environment"]["Variables"];
    assert_eq!(
        variables["EDL_METRICS_NAMESPACE"],
        serde_json::json!({ "Fn::Sub": "EDL/${AWS::StackName}" })
    );
    assert_eq!(
        variables["EDL_REFRESH_SIGNS_PER_DAY"],
        serde_json::json!({ "Ref": "RefreshSignsPerDay" })
    );
    // The refresh index the job reads, keys only.
    let indexes = as_list(&resources["RecordsTable"]["Properties"]["GlobalSecondaryIndexes"]);
    let refresh_index = indexes
        .iter()
        .find(|i| i["IndexName"] == "refresh")
        .expect("refresh index");
    assert_eq!(refresh_index["Projection"]["ProjectionType"], "KEYS_ONLY");
    assert_eq!(refresh_index["KeySchema"][0]["AttributeName"], "refreshPk");
    // The review queues' index holds keys only (issue 13): a page reads its items whole, so an entry costs one write unit.
    let queue_index = indexes.iter().find(|i| i["IndexName"] == "queue").expect("queue index");
    assert_eq!(queue_index["Projection"]["ProjectionType"], "KEYS_ONLY");
}

/// The enumeration alarm watches the verify function's EMF metric of one organisation's misses, and the function is
/// told its quotas.
#[test]
fn the_enumeration_alarm_watches_misses_per_organisation() {
    let template = transformed();
    let resources = &template["Resources"];
    let alarm = &resources["VerificationEnumerationAlarm"]["Properties"];
    assert_eq!(
        (alarm["Namespace"].as_str(), alarm["MetricName"].as_str()),
        (
            Some(shared::verification::metrics::NAMESPACE),
            Some(shared::verification::metrics::WINDOW_MISSES)
        ),
        "the alarm reads the metric the verify function emits"
    );
    // The largest organisation's count, not a sum over them: one organisation's walk is what it watches.
    assert_eq!(alarm["Statistic"], "Maximum");
    assert!(alarm.get("Dimensions").is_none(), "emitted without dimensions");
    assert_eq!(alarm["Period"], 300);
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(
        alarm["Threshold"],
        serde_json::json!({ "Ref": "EnumerationMissThreshold" })
    );
    let quotas = &resources["VerifyFunction"]["Properties"]["Environment"]["Variables"]["EDL_QUOTAS"];
    assert_eq!(quotas, &serde_json::json!({ "Ref": "VerificationQuotas" }));
    let shipped = template["Parameters"]["VerificationQuotas"]["Default"]
        .as_str()
        .expect("default quotas");
    assert_eq!(
        shared::verification::quota::Quotas::from_json(shipped).expect("the default parses"),
        shared::verification::quota::Quotas::shipped()
    );
}

#[test]
fn the_table_and_api_are_configured_for_production() {
    let template = transformed();
    let table = &template["Resources"]["RecordsTable"]["Properties"];
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(table["SSESpecification"]["SSEEnabled"], true);
    // SAM renders the HTTP API as an OpenAPI body: one JWT authorizer, on every operation.
    let body = &template["Resources"]["Api"]["Properties"]["Body"];
    let scheme = &body["components"]["securitySchemes"]["AuthorityJwt"]["x-amazon-apigateway-authorizer"];
    assert_eq!(scheme["type"], "jwt");
    let paths = body["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, methods) in paths {
        for (method, operation) in methods.as_object().expect("methods") {
            operations += 1;
            // Only the trust material, the status lists and the cities' truck rules are public.
            let expected = if matches!(
                path.as_str(),
                "/.well-known/edl/trust" | "/status-lists/{id}" | "/truck/cities" | "/truck/cities/{city}"
            ) {
                serde_json::json!([{ "NONE": [] }])
            } else {
                serde_json::json!([{ "AuthorityJwt": [] }])
            };
            assert_eq!(operation["security"], expected, "{method} {path}: authorizer");
        }
    }
    assert_eq!(
        operations,
        edl_apply::ROUTES.len()
            + edl_admin::ROUTES.len()
            + edl_photo_upload::ROUTES.len()
            + edl_review::ROUTES.len()
            + edl_licence::ROUTES.len()
            + edl_verify::ROUTES.len()
            + edl_pass::ROUTES.len()
    );
    // The photo bucket is private, encrypted and TLS only.
    let bucket = &template["Resources"]["PhotoBucket"]["Properties"];
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(bucket["PublicAccessBlockConfiguration"][flag], true, "{flag}");
    }
    assert!(bucket["BucketEncryption"].is_object());
    let policy = &template["Resources"]["PhotoBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(policy["Effect"], "Deny");
    assert_eq!(policy["Condition"]["Bool"]["aws:SecureTransport"], "false");
}

/// The literal text of a template string built with `Fn::Join`, `Fn::Sub` and `Fn::If` (references left as written).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect(),
        Value::Object(map) => match (map.get("Fn::Join"), map.get("Fn::Sub"), map.get("Fn::If")) {
            (Some(join), _, _) => as_list(&join[1]).iter().map(text).collect(),
            (_, Some(Value::Array(sub)), _) => sub.first().map(text).unwrap_or_default(),
            (_, Some(sub), _) => text(sub),
            (_, _, Some(branches)) => text(&branches[1]),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

#[test]
fn the_consoles_are_private_behind_cloudfront_with_the_local_policy_and_cors_limited_to_them() {
    let template = transformed();
    let resources = &template["Resources"];

    // The bucket is private; only this distribution reads it, over TLS.
    let bucket = &resources["ConsoleBucket"]["Properties"];
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(bucket["PublicAccessBlockConfiguration"][flag], true, "{flag}");
    }
    let statements = as_list(&resources["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]);
    let allows: Vec<&Value> = statements.iter().filter(|s| s["Effect"] == "Allow").collect();
    assert_eq!(allows.len(), 1, "one reader");
    assert_eq!(allows[0]["Principal"]["Service"], "cloudfront.amazonaws.com");
    assert_eq!(allows[0]["Action"], "s3:GetObject");
    assert!(
        text(&allows[0]["Condition"]["StringEquals"]["AWS:SourceArn"]).ends_with("distribution/${ConsoleDistribution}")
    );
    assert!(statements
        .iter()
        .any(|s| s["Effect"] == "Deny" && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"));

    let distribution = &resources["ConsoleDistribution"]["Properties"]["DistributionConfig"];
    assert_eq!(
        distribution["Origins"][0]["OriginAccessControlId"]["Fn::GetAtt"][0],
        "ConsoleOriginAccess"
    );
    let behaviour = &distribution["DefaultCacheBehavior"];
    assert_eq!(behaviour["ViewerProtocolPolicy"], "redirect-to-https");
    assert_eq!(behaviour["ResponseHeadersPolicyId"]["Ref"], "ConsoleHeaders");

    // CloudFront sends the policy the local server sends: the same directives, the same sources but for origins.
    let security = &resources["ConsoleHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
    let deployed = text(&security["ContentSecurityPolicy"]["ContentSecurityPolicy"]);
    let local = edl_local_api::consoles::content_security_policy(&[], &[]);
    let directives = |policy: &str| -> Vec<(String, Vec<String>)> {
        policy
            .split(';')
            .filter_map(|d| {
                let mut words = d.split_whitespace();
                let name = words.next()?.to_string();
                Some((
                    name,
                    words
                        .filter(|w| !w.starts_with("https://") && !w.starts_with("${"))
                        .map(str::to_string)
                        .collect(),
                ))
            })
            .collect()
    };
    assert_eq!(directives(&deployed), directives(&local), "{deployed}");
    assert!(!deployed.contains("unsafe-"), "{deployed}");
    assert_eq!(security["FrameOptions"]["FrameOption"], "DENY");
    assert_eq!(security["ReferrerPolicy"]["ReferrerPolicy"], "no-referrer");

    // Only the consoles' origin may call the API across origins, without credentials (tokens go in a header).
    let cors = &resources["Api"]["Properties"]["Body"]["x-amazon-apigateway-cors"];
    assert_eq!(
        cors["allowOrigins"],
        serde_json::json!([{ "Fn::Sub": "https://${ConsoleDistribution.DomainName}" }])
    );
    assert!(cors["allowCredentials"].is_null() || cors["allowCredentials"] == false);
    assert_eq!(
        template["Rules"]["ConsoleClientIsAnAudience"]["Assertions"][0]["Assert"]["Fn::Contains"][1]["Ref"],
        "ConsoleClientId"
    );
}

/// Where a DynamoDB statement applies: the records table or one of its indexes (whose partition keys are then
/// the index's: `queuePk`, `expiryPk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum On {
    Table,
    QueueIndex,
    ExpiryIndex,
    RefreshIndex,
    IssueIndex,
}

use On::{ExpiryIndex, IssueIndex, QueueIndex, RefreshIndex, Table};

/// Every function's DynamoDB permissions, in one place: role, action, table or index, and the partition keys
/// (`dynamodb:LeadingKeys` patterns) it may touch with that action. Derived from the code (the keys of
/// `shared/src/adapters/dynamodb.rs`, the use cases each handler and cold start call) and checked against the
/// calls `tools/capacity` counted per operation, partition by partition. Nothing but the key administration
/// (`edl-local keys`, not a function) writes `TRUST`.
const PARTITIONS: &[(&str, &str, On, &[&str])] = &[
    (
        "ApplyFunctionRole",
        "dynamodb:GetItem",
        Table,
        &["HOLDER#*", "LICENCE#*", "APP#*", "OPENAPP#*"],
    ),
    // The rollout plan, read whole once per staleness period per instance.
    ("ApplyFunctionRole", "dynamodb:Query", Table, &["ROLLOUT"]),
    ("ApplyFunctionRole", "dynamodb:PutItem", Table, &["APP#*", "OPENAPP#*"]),
    ("ApplyFunctionRole", "dynamodb:DeleteItem", Table, &["OPENAPP#*"]),
    (
        "AdminFunctionRole",
        "dynamodb:GetItem",
        Table,
        &["LICENCE#*", "HOLDER#*", "EDL#*", "PASS#*", "STATUSLIST#*", "IMPORT#*"],
    ),
    (
        "AdminFunctionRole",
        "dynamodb:Query",
        Table,
        &["LICENCE#*", "ROLLOUT", "TRUCKRULES", "TRUST"],
    ),
    (
        "AdminFunctionRole",
        "dynamodb:PutItem",
        Table,
        &[
            "LICENCE#*",
            "HOLDER#*",
            "EDL#*",
            "ROLLOUT",
            "TRUCKRULES",
            "VEHICLE#*",
            "PASS#*",
            "OWNER#*",
            "FLEET#*",
            "STATUSLIST#*",
            "NOTICE#*",
            "IMPORT#*",
        ],
    ),
    // The notice outbox: a notice recorded with the change that warrants it, deleted once delivered.
    ("AdminFunctionRole", "dynamodb:DeleteItem", Table, &["NOTICE#*"]),
    // The synchronous import and large imports' chunks: licences read and written in batches.
    ("AdminFunctionRole", "dynamodb:BatchGetItem", Table, &["LICENCE#*"]),
    (
        "AdminFunctionRole",
        "dynamodb:BatchWriteItem",
        Table,
        &["LICENCE#*", "HOLDER#*"],
    ),
    // Large imports' licences, and the overdue reviews' applications from the keys-only queue index.
    (
        "ExpireFunctionRole",
        "dynamodb:BatchGetItem",
        Table,
        &["LICENCE#*", "APP#*"],
    ),
    (
        "ExpireFunctionRole",
        "dynamodb:BatchWriteItem",
        Table,
        &["LICENCE#*", "HOLDER#*"],
    ),
    // Large imports' jobs and their pending list (IMPORT#pending).
    ("ExpireFunctionRole", "dynamodb:Query", Table, &["IMPORT#*"]),
    // The flip done, the licence's mark ("status to publish") is removed by an update conditional on its version.
    ("AdminFunctionRole", "dynamodb:UpdateItem", Table, &["EDL#*"]),
    ("PhotoUploadFunctionRole", "dynamodb:GetItem", Table, &["APP#*"]),
    ("PhotoUploadFunctionRole", "dynamodb:PutItem", Table, &["APP#*"]),
    ("PhotoCheckFunctionRole", "dynamodb:GetItem", Table, &["APP#*"]),
    (
        "PhotoCheckFunctionRole",
        "dynamodb:PutItem",
        Table,
        &["APP#*", "PHOTO#*"],
    ),
    (
        "ReviewFunctionRole",
        "dynamodb:GetItem",
        Table,
        &["APP#*", "LICENCE#*", "HOLDER#*", "EDL#*", "STATUSLIST#*"],
    ),
    (
        "ReviewFunctionRole",
        "dynamodb:PutItem",
        Table,
        &["APP#*", "EDL#*", "STATUSLIST#*", "NOTICE#*"],
    ),
    (
        "ReviewFunctionRole",
        "dynamodb:DeleteItem",
        Table,
        &["OPENAPP#*", "NOTICE#*"],
    ),
    // The queue's shards and the unsharded partition; the index holds keys only, so a page's items are read whole.
    (
        "ReviewFunctionRole",
        "dynamodb:Query",
        QueueIndex,
        &["REVIEW", "REVIEW#*"],
    ),
    ("ReviewFunctionRole", "dynamodb:BatchGetItem", Table, &["APP#*"]),
    (
        "IssueFunctionRole",
        "dynamodb:GetItem",
        Table,
        &["APP#*", "LICENCE#*", "HOLDER#*", "EDL#*", "STATUSLIST#*"],
    ),
    ("IssueFunctionRole", "dynamodb:Query", Table, &["TRUST"]),
    (
        "IssueFunctionRole",
        "dynamodb:PutItem",
        Table,
        &["EDL#*", "APP#*", "HOLDER#*", "STATUSLIST#*", "STATUSSLOT#*", "NOTICE#*"],
    ),
    (
        "IssueFunctionRole",
        "dynamodb:DeleteItem",
        Table,
        &["OPENAPP#*", "NOTICE#*"],
    ),
    (
        "LicenceFunctionRole",
        "dynamodb:GetItem",
        Table,
        &["HOLDER#*", "EDL#*", "LICENCE#*", "SHOWCODE#*", "APP#*", "STATUSLIST#*"],
    ),
    (
        "LicenceFunctionRole",
        "dynamodb:Query",
        Table,
        &["TRUST", "CHECKS#*", "LICENCE#*"],
    ),
    // Show codes, and the licence when its document is re-signed on showing (issue 12).
    (
        "LicenceFunctionRole",
        "dynamodb:PutItem",
        Table,
        &["SHOWCODE#*", "EDL#*", "STATUSLIST#*", "STATUSSLOT#*"],
    ),
    (
        "VerifyFunctionRole",
        "dynamodb:GetItem",
        Table,
        &["EDL#*", "LICENCE#*", "PASS#*", "STATUSTOKEN#*"],
    ),
    (
        "VerifyFunctionRole",
        "dynamodb:Query",
        Table,
        &["TRUST", "TRUCKRULES", "LICENCE#*"],
    ),
    // Audit items, and the verifiers' single-use nonces (kept when drawn, consumed by a conditional delete).
    (
        "VerifyFunctionRole",
        "dynamodb:PutItem",
        Table,
        &["CHECKS#*", "PASSCHECKS#*", "NONCE#*"],
    ),
    ("VerifyFunctionRole", "dynamodb:DeleteItem", Table, &["NONCE#*"]),
    // The organisations' quota counters (conditional atomic adds).
    ("VerifyFunctionRole", "dynamodb:UpdateItem", Table, &["QUOTA#*"]),
    ("PassFunctionRole", "dynamodb:GetItem", Table, &["VEHICLE#*", "PASS#*"]),
    (
        "PassFunctionRole",
        "dynamodb:Query",
        Table,
        &["TRUCKRULES", "VEHICLE#*", "OWNER#*", "FLEET#*", "PASSCHECKS#*", "TRUST"],
    ),
    (
        "PassFunctionRole",
        "dynamodb:PutItem",
        Table,
        &["PASS#*", "VEHICLE#*", "OWNER#*", "FLEET#*", "NOTICE#*"],
    ),
    ("PassFunctionRole", "dynamodb:DeleteItem", Table, &["NOTICE#*"]),
    (
        "PassFunctionRole",
        "dynamodb:Query",
        QueueIndex,
        &["PASSREVIEW", "PASSREVIEW#*"],
    ),
    ("PassFunctionRole", "dynamodb:BatchGetItem", Table, &["PASS#*"]),
    (
        "ExpireFunctionRole",
        "dynamodb:GetItem",
        Table,
        &[
            "APP#*",
            "EDL#*",
            "PASS#*",
            "STATUSLIST#*",
            "NOTICE#*",
            "IMPORT#*",
            "HOLDER#*",
        ],
    ),
    (
        "ExpireFunctionRole",
        "dynamodb:PutItem",
        Table,
        &[
            "APP#*",
            "EDL#*",
            "PASS#*",
            "VEHICLE#*",
            "OWNER#*",
            "FLEET#*",
            "STATUSLIST#*",
            "IMPORT#*",
        ],
    ),
    (
        "ExpireFunctionRole",
        "dynamodb:DeleteItem",
        Table,
        &["OPENAPP#*", "NOTICE#*", "IMPORT#*"],
    ),
    (
        "ExpireFunctionRole",
        "dynamodb:Query",
        ExpiryIndex,
        &["EDL#*", "APP#*", "PASS#*"],
    ),
    (
        "ExpireFunctionRole",
        "dynamodb:Query",
        QueueIndex,
        &["REVIEW", "REVIEW#*"],
    ),
    // The sweep reads the outboxes' shards (the approvals it re-drives are read under `APP#*`, the notices it
    // delivers again under `NOTICE#*`).
    (
        "ExpireFunctionRole",
        "dynamodb:Query",
        IssueIndex,
        &["ISSUE#*", "NOTICE#*"],
    ),
    // The scheduled document refresh: the licence, its paper licence and application read, the licence re-signed.
    (
        "RefreshFunctionRole",
        "dynamodb:GetItem",
        Table,
        // `SIGNS#`: the scheduled jobs' daily signing counter (issue 12), read, then raised by conditional adds.
        &[
            "EDL#*",
            "LICENCE#*",
            "APP#*",
            "STATUSLIST#*",
            "STATUSTOKEN#*",
            "SIGNS#*",
        ],
    ),
    (
        "RefreshFunctionRole",
        "dynamodb:Query",
        Table,
        &["TRUST", "STATUSLIST#*"],
    ),
    (
        "RefreshFunctionRole",
        "dynamodb:PutItem",
        Table,
        &["EDL#*", "STATUSLIST#*", "STATUSSLOT#*", "STATUSTOKEN#*"],
    ),
    ("RefreshFunctionRole", "dynamodb:Query", RefreshIndex, &["REFRESH#*"]),
    // Status lists (issue 12 item 3): every function that changes a licence's status flips its entries in the
    // list's shards (a write guarded by a condition check of the licence's version); the functions that sign
    // documents claim an entry for each; the refresh function's five-minute job reads the shards and keeps the
    // signed tokens, which the verify function serves.
    ("AdminFunctionRole", "dynamodb:ConditionCheckItem", Table, &["EDL#*"]),
    ("ReviewFunctionRole", "dynamodb:ConditionCheckItem", Table, &["EDL#*"]),
    ("IssueFunctionRole", "dynamodb:ConditionCheckItem", Table, &["EDL#*"]),
    ("LicenceFunctionRole", "dynamodb:ConditionCheckItem", Table, &["EDL#*"]),
    ("ExpireFunctionRole", "dynamodb:ConditionCheckItem", Table, &["EDL#*"]),
    ("RefreshFunctionRole", "dynamodb:ConditionCheckItem", Table, &["EDL#*"]),
    // The flip done, the licence's mark ("status to publish") is removed by an update conditional on its version;
    // the status list job first reads the marks left (the sparse `issue` index's `STATUS#<shard>` partitions).
    ("ReviewFunctionRole", "dynamodb:UpdateItem", Table, &["EDL#*"]),
    ("IssueFunctionRole", "dynamodb:UpdateItem", Table, &["EDL#*"]),
    ("LicenceFunctionRole", "dynamodb:UpdateItem", Table, &["EDL#*"]),
    ("ExpireFunctionRole", "dynamodb:UpdateItem", Table, &["EDL#*"]),
    (
        "RefreshFunctionRole",
        "dynamodb:UpdateItem",
        Table,
        &["EDL#*", "SIGNS#*"],
    ),
    ("RefreshFunctionRole", "dynamodb:Query", IssueIndex, &["STATUS#*"]),
];

const WRITES: [&str; 4] = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
];

type Grants = std::collections::BTreeMap<(String, String, On), std::collections::BTreeSet<String>>;

/// IAM's `StringLike`: `*` any run of characters, `?` any one.
fn like(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    // matches[i][j]: the first i characters of the pattern match the first j of the value.
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

/// Every DynamoDB grant of every function's role, each of which must be limited by `dynamodb:LeadingKeys`.
fn dynamo_grants(template: &Value) -> Grants {
    let mut grants = Grants::new();
    let resources = template["Resources"].as_object().expect("Resources");
    for (role, resource) in resources {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for policy in as_list(&resource["Properties"]["Policies"]) {
            for statement in as_list(&policy["PolicyDocument"]["Statement"]) {
                let actions: Vec<String> = as_list(&statement["Action"])
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_string))
                    .filter(|a| a.starts_with("dynamodb:"))
                    .collect();
                if actions.is_empty() {
                    continue;
                }
                let condition = statement["Condition"].as_object().expect("a condition");
                assert_eq!(
                    condition.keys().collect::<Vec<_>>(),
                    vec!["ForAllValues:StringLike"],
                    "{role}: {actions:?} limited by partition key and nothing else"
                );
                let keys: Vec<String> = as_list(&condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
                    .iter()
                    .map(|k| k.as_str().expect("a pattern").to_string())
                    .collect();
                assert!(!keys.is_empty(), "{role}: {actions:?} without partition keys");
                for key in &keys {
                    assert!(
                        key.len() > 1 && !key.starts_with('*') && !key.starts_with('?'),
                        "{role}: {key} is no partition prefix"
                    );
                }
                for resource in as_list(&statement["Resource"]) {
                    let on = if resource == serde_json::json!({ "Fn::GetAtt": ["RecordsTable", "Arn"] }) {
                        Table
                    } else {
                        match resource["Fn::Sub"].as_str() {
                            Some("${RecordsTable.Arn}/index/queue") => QueueIndex,
                            Some("${RecordsTable.Arn}/index/expiry") => ExpiryIndex,
                            Some("${RecordsTable.Arn}/index/refresh") => RefreshIndex,
                            Some("${RecordsTable.Arn}/index/issue") => IssueIndex,
                            _ => panic!("{role}: {actions:?} on {resource}"),
                        }
                    };
                    for action in &actions {
                        grants
                            .entry((role.clone(), action.clone(), on))
                            .or_default()
                            .extend(keys.iter().cloned());
                    }
                }
            }
        }
    }
    grants
}

/// Whether the role may do `action` on an item of partition `key` (of the table or an index).
fn allowed(grants: &Grants, role: &str, action: &str, on: On, key: &str) -> bool {
    grants
        .get(&(role.to_string(), action.to_string(), on))
        .is_some_and(|patterns| patterns.iter().any(|p| like(p, key)))
}

#[test]
fn every_function_touches_only_its_own_partitions_and_none_but_the_key_administration_writes_trust() {
    assert!(like("HOLDER#*", "HOLDER#11010519900307451X") && like("TRUST", "TRUST"));
    assert!(!like("PASS#*", "PASSCHECKS#1") && !like("APP#*", "TRUST") && !like("TRUST", "TRUSTX"));
    let grants = dynamo_grants(&transformed());
    let mut expected = Grants::new();
    for (role, action, on, keys) in PARTITIONS {
        let entry = expected.entry((role.to_string(), action.to_string(), *on)).or_default();
        assert!(entry.is_empty(), "{role} {action} {on:?} twice in PARTITIONS");
        entry.extend(keys.iter().map(|k| k.to_string()));
    }
    assert_eq!(grants, expected, "the template's grants against PARTITIONS");

    // No function may write the trust material, whatever the sort key.
    for ((role, action, on), patterns) in &grants {
        if WRITES.contains(&action.as_str()) {
            for key in ["TRUST", "TRUST#", "TRUST#Iaca#1"] {
                assert!(
                    !patterns.iter().any(|p| like(p, key)),
                    "{role} may {action} {key} on {on:?}"
                );
            }
        }
    }
    // A write outside a function's partitions is refused by its policy: a forged IACA row, a changed
    // licence, a pass written by the verifier, a licence written by the function that shows it.
    let roles: std::collections::BTreeSet<&str> = PARTITIONS.iter().map(|p| p.0).collect();
    for role in &roles {
        for action in WRITES {
            assert!(
                !allowed(&grants, role, action, Table, "TRUST"),
                "{role}: {action} TRUST"
            );
        }
        // The administrator's changes and imports, and large imports' chunks (in the expire function).
        if *role != "AdminFunctionRole" && *role != "ExpireFunctionRole" {
            for action in WRITES {
                assert!(
                    !allowed(&grants, role, action, Table, "LICENCE#11010519900307451X"),
                    "{role}: {action} of a licence"
                );
            }
        }
    }
    assert!(!allowed(
        &grants,
        "VerifyFunctionRole",
        "dynamodb:PutItem",
        Table,
        "PASS#1"
    ));
    // The licence function re-signs the document of the licence it shows (issue 12), and writes no other record.
    assert!(allowed(
        &grants,
        "LicenceFunctionRole",
        "dynamodb:PutItem",
        Table,
        "EDL#1"
    ));
    assert!(!allowed(
        &grants,
        "LicenceFunctionRole",
        "dynamodb:PutItem",
        Table,
        "APP#1"
    ));
    assert!(!allowed(
        &grants,
        "ApplyFunctionRole",
        "dynamodb:PutItem",
        Table,
        "EDL#1"
    ));
    assert!(!allowed(
        &grants,
        "ReviewFunctionRole",
        "dynamodb:Query",
        QueueIndex,
        "PASSREVIEW"
    ));
    assert!(allowed(
        &grants,
        "LicenceFunctionRole",
        "dynamodb:PutItem",
        Table,
        "SHOWCODE#1"
    ));
    assert!(allowed(
        &grants,
        "ApplyFunctionRole",
        "dynamodb:PutItem",
        Table,
        "OPENAPP#1"
    ));
}

#[test]
fn only_the_named_roles_may_sign_with_each_key() {
    let template = transformed();
    let resources = &template["Resources"];
    let account = "arn:${AWS::Partition}:iam::${AWS::AccountId}:root";
    // Who each key policy lets sign; the account administers both keys but is delegated no use of them.
    let signers = |key: &str| -> Vec<Value> {
        let mut signers = Vec::new();
        for statement in as_list(&resources[key]["Properties"]["KeyPolicy"]["Statement"]) {
            assert_eq!(statement["Effect"], "Allow", "{key}");
            let actions: Vec<String> = as_list(&statement["Action"])
                .iter()
                .map(|a| a.as_str().unwrap_or("").to_string())
                .collect();
            let principals = as_list(&statement["Principal"]["AWS"]);
            assert!(
                !principals.is_empty() && statement["Principal"] != "*",
                "{key}: {statement}"
            );
            for action in &actions {
                assert!(!action.contains('*'), "{key}: {action}");
                assert!(
                    !matches!(action.as_str(), "kms:CreateGrant" | "kms:Verify"),
                    "{key}: {action} hands the key's use on"
                );
            }
            if principals
                .iter()
                .any(|p| p["Fn::Sub"] == account || p.as_str() == Some("*"))
            {
                assert!(
                    !actions.iter().any(|a| a == "kms:Sign"),
                    "{key}: the account (any IAM principal with kms:Sign on *) may sign"
                );
            }
            if actions.iter().any(|a| a == "kms:Sign") {
                signers.extend(principals);
            }
        }
        signers
    };
    assert_eq!(
        signers("IacaKey"),
        vec![serde_json::json!({ "Ref": "KeyAdministratorArn" })],
        "only the key administration certifies with the IACA key"
    );
    assert_eq!(
        signers("DocumentSignerKey"),
        [
            "IssueFunctionRole",
            "LicenceFunctionRole",
            "PassFunctionRole",
            "RefreshFunctionRole"
        ]
        .iter()
        .map(|role| serde_json::json!({ "Fn::GetAtt": [role, "Arn"] }))
        .collect::<Vec<_>>(),
        "the functions that issue credentials sign with the document signer"
    );
    // The key administration only reads the document signer's public key (to certify it).
    for statement in as_list(&resources["DocumentSignerKey"]["Properties"]["KeyPolicy"]["Statement"]) {
        if statement["Principal"]["AWS"] == serde_json::json!({ "Ref": "KeyAdministratorArn" }) {
            assert_eq!(as_list(&statement["Action"]), vec![Value::from("kms:GetPublicKey")]);
        }
    }
}

#[test]
fn the_iaca_is_pinned_by_deployment_configuration() {
    let template = transformed();
    let parameter = &template["Parameters"]["IacaSha256"];
    assert_eq!(parameter["AllowedPattern"], "^([0-9a-f]{64})?$");
    assert_eq!(
        parameter["Default"], "",
        "the first deploy, before the bootstrap, trusts none"
    );
    // Exactly the functions that verify or sign are told the fingerprint (through the parameter, never a default).
    let mut told = Vec::new();
    for (name, resource) in template["Resources"].as_object().expect("Resources") {
        if resource["Type"] != "AWS::Lambda::Function" {
            continue;
        }
        let pin = &resource["Properties"]["Environment"]["Variables"]["IACA_SHA256"];
        if !pin.is_null() {
            assert_eq!(pin, &serde_json::json!({ "Ref": "IacaSha256" }), "{name}");
            told.push(name.clone());
        }
    }
    told.sort();
    assert_eq!(
        told,
        [
            "IssueFunction",
            "LicenceFunction",
            "PassFunction",
            "RefreshFunction",
            "VerifyFunction"
        ]
    );
}

/// Issue 13: an approval always ends as a licence. The issue function retries with backoff and sends what
/// still fails to an encrypted queue that raises an alarm; the outbox index is keys only; the sweep runs every
/// five minutes in the expire function, which may read the outbox and put the approval's event, nothing more.
#[test]
fn failed_issuance_lands_in_an_alarmed_queue_and_the_sweep_runs_every_five_minutes() {
    let template = transformed();
    let resources = &template["Resources"];
    let config = resources
        .as_object()
        .expect("Resources")
        .values()
        .find(|r| {
            r["Type"] == "AWS::Lambda::EventInvokeConfig"
                && r["Properties"]["FunctionName"] == serde_json::json!({ "Ref": "IssueFunction" })
        })
        .expect("the issue function's asynchronous invocation config");
    let properties = &config["Properties"];
    assert_eq!(
        properties["MaximumRetryAttempts"], 2,
        "Lambda's retries, with its backoff"
    );
    assert_eq!(properties["MaximumEventAgeInSeconds"], 3600);
    assert_eq!(
        properties["DestinationConfig"]["OnFailure"]["Destination"],
        serde_json::json!({ "Fn::GetAtt": ["IssueFailures", "Arn"] })
    );
    assert_eq!(resources["IssueFailures"]["Properties"]["SqsManagedSseEnabled"], true);
    let alarm = &resources["IssueFailuresAlarm"]["Properties"];
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(
        alarm["Dimensions"][0]["Value"],
        serde_json::json!({ "Fn::GetAtt": ["IssueFailures", "QueueName"] })
    );
    assert_eq!(alarm["Threshold"], 0);
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    // The issue function may send to its queue.
    let statements = statements(&template);
    assert!(statements
        .iter()
        .any(|(role, action, resource)| role == "IssueFunctionRole"
            && action == "sqs:SendMessage"
            && resource == &serde_json::json!({ "Fn::GetAtt": ["IssueFailures", "Arn"] })));

    // The outbox index, keys only.
    let indexes = as_list(&resources["RecordsTable"]["Properties"]["GlobalSecondaryIndexes"]);
    let issue = indexes.iter().find(|i| i["IndexName"] == "issue").expect("issue index");
    assert_eq!(issue["Projection"]["ProjectionType"], "KEYS_ONLY");
    assert_eq!(issue["KeySchema"][0]["AttributeName"], "issuePk");
    assert_eq!(issue["KeySchema"][1]["AttributeName"], "issueSk");

    // The sweep: a five-minute rule with the sweep's input, targeting the expire function.
    let rule = resources
        .as_object()
        .expect("Resources")
        .values()
        .find(|r| r["Type"] == "AWS::Events::Rule" && r["Properties"]["Targets"][0]["Input"] == r#"{"job":"sweep"}"#)
        .expect("the sweep's schedule");
    assert_eq!(rule["Properties"]["ScheduleExpression"], "rate(5 minutes)");
    let target = &rule["Properties"]["Targets"][0];
    assert_eq!(
        target["Arn"],
        serde_json::json!({ "Fn::GetAtt": ["ExpireFunction", "Arn"] })
    );
    assert_eq!(target["Input"], r#"{"job":"sweep"}"#);
    let expire: Vec<&(String, String, Value)> = statements.iter().filter(|s| s.0 == "ExpireFunctionRole").collect();
    let puts: Vec<&Value> = expire
        .iter()
        .filter(|s| s.1 == "events:PutEvents")
        .map(|s| &s.2)
        .collect();
    assert_eq!(puts, vec![&serde_json::json!({ "Fn::GetAtt": ["EventBus", "Arn"] })]);
    assert_eq!(
        resources["ExpireFunction"]["Properties"]["Environment"]["Variables"]["EVENT_BUS_NAME"],
        serde_json::json!({ "Ref": "EventBus" })
    );

    // A sweep that fails to re-drive is a metric (the expire function's EMF line), and two such sweeps in a
    // row raise the alarm.
    let alarm = &resources["SweepFailuresAlarm"]["Properties"];
    assert_eq!(alarm["Namespace"], shared::adapters::emf::SWEEP_NAMESPACE);
    assert_eq!(alarm["MetricName"], shared::adapters::emf::SWEEP_FAILURES);
    assert_eq!(alarm["Statistic"], "Sum");
    assert_eq!(alarm["Period"], 300);
    assert_eq!(alarm["EvaluationPeriods"], 2);
    assert_eq!(alarm["DatapointsToAlarm"], 2);
    assert_eq!(alarm["Threshold"], 0);
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(alarm["TreatMissingData"], "notBreaching");
}
