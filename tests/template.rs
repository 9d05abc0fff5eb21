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
        if action != "rekognition:GetFaceLivenessSessionResults" && action != "cloudwatch:PutMetricData" {
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
                    || arn.contains(":s3:::edl-photos-${AWS::AccountId}-${AWS::Region}/portraits/*"),
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
            || *a == "rekognition:GetFaceLivenessSessionResults"),
        "apply touches only DynamoDB and its event bus: {apply:?}"
    );
    assert!(!apply.contains(&"dynamodb:UpdateItem") && !apply.contains(&"dynamodb:Query"));
    assert!(
        of("AdminFunctionRole")
            .iter()
            .all(|a| a.starts_with("dynamodb:") || *a == "events:PutEvents"),
        "admin has no S3 and no KMS"
    );
    // Verification: no KMS, and it writes only its audit items.
    let resources = template["Resources"].as_object().expect("Resources");
    let verify_role = &resources["VerifyFunctionRole"]["Properties"]["Policies"];
    for statement in as_list(&verify_role[0]["PolicyDocument"]["Statement"]) {
        for action in as_list(&statement["Action"]) {
            let action = action.as_str().unwrap_or("");
            assert!(
                matches!(action, "dynamodb:GetItem" | "dynamodb:Query" | "dynamodb:PutItem"),
                "verify: {action}"
            );
            if action == "dynamodb:PutItem" {
                // Licence checks, and truck pass checks (kept in the pass's partition, or unmatched).
                assert_eq!(
                    statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
                    serde_json::json!(["CHECKS#*", "PASSCHECKS#*"]),
                    "verify writes only audit items"
                );
            }
        }
    }
    // Truck passes: reads, the review queue, puts only in the pass, vehicle,
    // owner, fleet and truck-rules partitions, and signing with the document
    // signer, notices on the bus; no S3, no UpdateItem or DeleteItem.
    let pass = of("PassFunctionRole");
    assert!(!pass.is_empty(), "PassFunctionRole exists");
    assert!(
        pass.iter().all(|a| matches!(
            *a,
            "dynamodb:GetItem" | "dynamodb:Query" | "dynamodb:PutItem" | "kms:Sign" | "events:PutEvents"
        )),
        "pass: {pass:?}"
    );
    assert!(pass.contains(&"kms:Sign"), "pass signs passes and their show codes");
    for statement in as_list(&resources["PassFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"])
    {
        let actions = as_list(&statement["Action"]);
        if actions.iter().any(|a| a == "dynamodb:PutItem") {
            assert_eq!(
                actions,
                vec![Value::String("dynamodb:PutItem".into())],
                "pass: puts in a statement of their own"
            );
            assert_eq!(
                statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
                serde_json::json!(["TRUCKRULES", "PASS#*", "VEHICLE#*", "OWNER#*", "FLEET#*"]),
                "pass writes only passes, their copies and lists, and the seeded truck rules"
            );
        }
    }
    for (role, action, resource) in &statements {
        if role == "PassFunctionRole" && action == "dynamodb:Query" {
            let table = serde_json::json!({ "Fn::GetAtt": ["RecordsTable", "Arn"] });
            let queue = serde_json::json!({ "Fn::Sub": "${RecordsTable.Arn}/index/queue" });
            assert!(resource == &table || resource == &queue, "pass: Query on {resource}");
        }
    }
    // Only the upload function may write uploads; only review keeps portraits.
    for (role, action, resource) in &statements {
        if action == "s3:PutObject" {
            let arn = resource["Fn::Sub"].as_str().unwrap_or("");
            match role.as_str() {
                "PhotoUploadFunctionRole" => assert!(arn.ends_with("/photos/*")),
                "ReviewFunctionRole" => assert!(arn.ends_with("/portraits/*")),
                other => panic!("{other} may not write to the photo bucket"),
            }
        }
    }
    // Only the four functions that issue credentials (licence documents and their refresh, truck pass
    // documents, show codes) may sign, with the document signer keys of this stack only (the keys tagged
    // for it, so that the next signer signs without a deployment); the pass and refresh functions only sign.
    let signer_keys =
        serde_json::json!({ "Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*" });
    for (role, action, resource) in &statements {
        if action.starts_with("kms:") {
            assert!(
                matches!(
                    role.as_str(),
                    "IssueFunctionRole" | "LicenceFunctionRole" | "PassFunctionRole" | "RefreshFunctionRole"
                ),
                "{role} may not use KMS"
            );
            assert_eq!(resource, &signer_keys, "{role}: {action}");
            if role == "PassFunctionRole" || role == "RefreshFunctionRole" {
                assert_eq!(action, "kms:Sign", "{role}: {action}");
            }
        }
    }
    let resources = template["Resources"].as_object().expect("Resources");
    for (name, resource) in resources {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for policy in as_list(&resource["Properties"]["Policies"]) {
            for statement in as_list(&policy["PolicyDocument"]["Statement"]) {
                let actions = as_list(&statement["Action"]);
                if actions
                    .iter()
                    .any(|a| a.as_str().is_some_and(|a| a.starts_with("kms:")))
                {
                    assert_eq!(
                        statement["Condition"]["StringEquals"]["aws:ResourceTag/edl-document-signer"],
                        serde_json::json!({ "Ref": "AWS::StackName" }),
                        "{name}: signing only with this stack's document signer keys"
                    );
                }
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
    // The refresh writes only licences, and reads only its own index.
    for statement in
        as_list(&resources["RefreshFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"])
    {
        let actions = as_list(&statement["Action"]);
        if actions.iter().any(|a| a == "dynamodb:PutItem") {
            assert_eq!(actions.len(), 1, "refresh: puts in a statement of their own");
            assert_eq!(
                statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
                serde_json::json!(["EDL#*"]),
                "refresh writes only electronic licences"
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
                        | "kms:Sign"
                        | "s3:GetObject"
                        | "cloudwatch:PutMetricData"
                ),
                "refresh: {action}"
            );
            if resource["Fn::Sub"].as_str().is_some_and(|s| s.contains("/index/")) {
                assert_eq!(
                    resource,
                    &serde_json::json!({ "Fn::Sub": "${RecordsTable.Arn}/index/refresh" })
                );
            }
        }
    }
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
        variables["EDL_REFRESH_SIGNS_PER_RUN"],
        serde_json::json!({ "Ref": "RefreshSignsPerRun" })
    );
    // The refresh index the job reads, keys only.
    let indexes = as_list(&resources["RecordsTable"]["Properties"]["GlobalSecondaryIndexes"]);
    let refresh_index = indexes
        .iter()
        .find(|i| i["IndexName"] == "refresh")
        .expect("refresh index");
    assert_eq!(refresh_index["Projection"]["ProjectionType"], "KEYS_ONLY");
    assert_eq!(refresh_index["KeySchema"][0]["AttributeName"], "refreshPk");
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
            // Only the trust material and the cities' truck rules are public.
            let expected = if matches!(
                path.as_str(),
                "/.well-known/edl/trust" | "/truck/cities" | "/truck/cities/{city}"
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
