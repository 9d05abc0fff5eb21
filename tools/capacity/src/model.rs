//! The capacity model: a launch profile turned into peak rates, the rates times the counted calls checked against AWS quotas, and the calls priced.

use crate::ledger::Call;
use crate::scenario::{spec, Measured, Measurement, OPERATIONS};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The launch profile (JSON, every field optional).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    pub applications_per_day: f64,
    /// Share of a day's applications that arrive in its busiest hour.
    pub peak_hour_share: f64,
    /// Share of applications with a new photo (uploaded, checked, reviewed by staff);
    /// the others use the photo on file and a liveness check.
    pub new_photo_share: f64,
    /// Verifications per second nationally at the busiest hour (officers and businesses).
    pub verifications_per_second: f64,
    pub verification_mix: VerificationMix,
    /// Share of verified codes that were signed for that showing (the rest reuse a code under 4 minutes old).
    pub new_code_share: f64,
    pub truck_applications_per_day: f64,
    pub truck_verifications_per_second: f64,
    pub latency_ms: Latency,
    pub quotas: Quotas,
    pub prices: Prices,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            applications_per_day: 5_000_000.0,
            peak_hour_share: 0.12,
            new_photo_share: 0.30,
            verifications_per_second: 500.0,
            verification_mix: VerificationMix::default(),
            new_code_share: 1.0,
            truck_applications_per_day: 100_000.0,
            truck_verifications_per_second: 50.0,
            latency_ms: Latency::default(),
            quotas: Quotas::default(),
            prices: Prices::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct VerificationMix {
    pub code: f64,
    pub barcode: f64,
    pub mdoc: f64,
}

impl Default for VerificationMix {
    fn default() -> Self {
        VerificationMix {
            code: 0.7,
            barcode: 0.1,
            mdoc: 0.2,
        }
    }
}

/// Time per call inside a function (same-region AWS calls, sequential), for Lambda durations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Latency {
    /// The function's own work per invocation (parsing, CBOR, ECDSA verification, PNG rendering aside).
    pub base: f64,
    pub dynamodb: f64,
    pub kms: f64,
    pub s3: f64,
    pub events: f64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            base: 10.0,
            dynamodb: 8.0,
            kms: 20.0,
            s3: 30.0,
            events: 20.0,
        }
    }
}

/// Default quotas of one account and region (see the doc's sources).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Quotas {
    /// KMS "Cryptographic operations (ECC) request rate", shared by every ECC key (Sign, Verify).
    pub kms_ecc_per_second: f64,
    pub dynamodb_partition_read_units: f64,
    pub dynamodb_partition_write_units: f64,
    /// A new on-demand table's initial throughput (it grows with use, or is pre-warmed).
    pub dynamodb_table_warm_read_units: f64,
    pub dynamodb_table_warm_write_units: f64,
    /// The per-table throughput quota of an on-demand table.
    pub dynamodb_table_max_units: f64,
    pub api_gateway_account_rps: f64,
    pub lambda_concurrency: f64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            kms_ecc_per_second: 1000.0,
            dynamodb_partition_read_units: 3000.0,
            dynamodb_partition_write_units: 1000.0,
            dynamodb_table_warm_read_units: 12_000.0,
            dynamodb_table_warm_write_units: 4000.0,
            dynamodb_table_max_units: 40_000.0,
            api_gateway_account_rps: 10_000.0,
            lambda_concurrency: 1000.0,
        }
    }
}

/// List prices in US dollars.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Prices {
    pub region: String,
    pub read_on: String,
    pub dynamodb_per_million_write_units: f64,
    pub dynamodb_per_million_read_units: f64,
    pub kms_per_10k_asymmetric: f64,
    pub kms_per_10k_other: f64,
    pub s3_per_1k_put_post_copy_list: f64,
    pub s3_per_1k_get_head: f64,
    pub events_per_million_entries: f64,
    pub api_gateway_http_per_million: f64,
    pub lambda_per_million_requests: f64,
    pub lambda_arm_per_gb_second: f64,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            region: "us-east-1".into(),
            read_on: "2026-12-04".into(),
            dynamodb_per_million_write_units: 0.625,
            dynamodb_per_million_read_units: 0.125,
            kms_per_10k_asymmetric: 0.15,
            kms_per_10k_other: 0.03,
            s3_per_1k_put_post_copy_list: 0.005,
            s3_per_1k_get_head: 0.0004,
            events_per_million_entries: 1.0,
            api_gateway_http_per_million: 1.0,
            lambda_per_million_requests: 0.20,
            lambda_arm_per_gb_second: 0.000_013_333_4,
        }
    }
}

/// What the deployment template says: function memory and route throttles.
#[derive(Debug, Clone, Default)]
pub struct TemplateFacts {
    pub memory_mb: HashMap<String, f64>,
    pub default_memory_mb: f64,
    pub route_rate_limits: HashMap<String, f64>,
    pub default_route_rate_limit: Option<f64>,
}

impl TemplateFacts {
    pub fn read(template: &str) -> Result<TemplateFacts, serde_norway::Error> {
        let doc: serde_norway::Value = serde_norway::from_str(template)?;
        let number = |v: &serde_norway::Value| v.as_f64().or_else(|| v.as_u64().map(|n| n as f64));
        let mut facts = TemplateFacts {
            default_memory_mb: number(&doc["Globals"]["Function"]["MemorySize"]).unwrap_or(128.0),
            ..TemplateFacts::default()
        };
        if let Some(resources) = doc["Resources"].as_mapping() {
            for resource in resources.values() {
                match resource["Type"].as_str() {
                    Some("AWS::Serverless::Function") => {
                        if let Some(binary) = resource["Metadata"]["BuildProperties"]["Binary"].as_str() {
                            let memory =
                                number(&resource["Properties"]["MemorySize"]).unwrap_or(facts.default_memory_mb);
                            facts.memory_mb.insert(binary.to_string(), memory);
                        }
                    }
                    Some("AWS::Serverless::HttpApi") => {
                        let properties = &resource["Properties"];
                        facts.default_route_rate_limit =
                            number(&properties["DefaultRouteSettings"]["ThrottlingRateLimit"]);
                        if let Some(routes) = properties["RouteSettings"].as_mapping() {
                            for (route, settings) in routes {
                                if let (Some(route), Some(limit)) =
                                    (route.as_str(), number(&settings["ThrottlingRateLimit"]))
                                {
                                    facts.route_rate_limits.insert(route.to_string(), limit);
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(facts)
    }

    pub fn memory(&self, function: &str) -> f64 {
        self.memory_mb.get(function).copied().unwrap_or(self.default_memory_mb)
    }

    pub fn route_limit(&self, route: &str) -> Option<f64> {
        self.route_rate_limits
            .get(route)
            .copied()
            .or(self.default_route_rate_limit)
    }
}

/// One operation's steady-state calls (the last run: caches of a warm function instance filled).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationCounts {
    pub id: String,
    pub title: String,
    pub function: Option<String>,
    pub route: Option<String>,
    pub runs: usize,
    /// Calls by `service:Operation`.
    pub calls: BTreeMap<String, usize>,
    pub total_calls: usize,
    /// Calls a first run made beyond the last one (a cold instance filling its caches).
    pub cold_extra_calls: i64,
    pub read_units: f64,
    pub reported_read_units: f64,
    pub write_units: f64,
    pub kms_signs: usize,
    pub event_entries: usize,
    pub s3_put_class: usize,
    pub s3_get_class: usize,
    pub duration_ms: f64,
    pub memory_mb: f64,
    /// Partitions every run touched with the same key: shared by all holders.
    pub shared_partitions: Vec<PartitionUse>,
    /// Index writes whose partition neither the request nor the item before it names.
    pub unattributed_index_write_units: f64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionUse {
    pub target: String,
    pub key: String,
    pub read_units: f64,
    pub write_units: f64,
}

pub fn summarise(measured: &Measured, latency: &Latency, template: &TemplateFacts) -> OperationCounts {
    let spec = spec(&measured.id);
    let last: &[Call] = measured.runs.last().map(Vec::as_slice).unwrap_or(&[]);
    let first: &[Call] = measured.runs.first().map(Vec::as_slice).unwrap_or(&[]);
    let mut calls = BTreeMap::new();
    let mut counts = OperationCounts {
        id: measured.id.clone(),
        title: spec.map(|s| s.title).unwrap_or("").to_string(),
        function: spec.and_then(|s| s.function).map(str::to_string),
        route: spec.and_then(|s| s.route).map(str::to_string),
        runs: measured.runs.len(),
        calls: BTreeMap::new(),
        total_calls: last.len(),
        cold_extra_calls: first.len() as i64 - last.len() as i64,
        read_units: 0.0,
        reported_read_units: 0.0,
        write_units: 0.0,
        kms_signs: 0,
        event_entries: 0,
        s3_put_class: 0,
        s3_get_class: 0,
        duration_ms: 0.0,
        memory_mb: 0.0,
        shared_partitions: Vec::new(),
        unattributed_index_write_units: 0.0,
    };
    let mut duration = latency.base;
    for call in last {
        *calls.entry(format!("{}:{}", call.service, call.operation)).or_insert(0) += 1;
        duration += match call.service.as_str() {
            "dynamodb" => latency.dynamodb,
            "kms" => latency.kms,
            "s3" => latency.s3,
            "events" => latency.events,
            _ => 0.0,
        };
        if call.service == "kms" && call.operation == "Sign" {
            counts.kms_signs += 1;
        }
        counts.event_entries += call.entries;
        if call.service == "s3" {
            match call.operation.as_str() {
                "GetObject" | "HeadObject" | "HeadBucket" => counts.s3_get_class += 1,
                _ => counts.s3_put_class += 1,
            }
        }
        if let Some(d) = &call.dynamo {
            counts.read_units += d.read_units;
            counts.reported_read_units += d.reported_read_units;
            counts.write_units += d.reported_write_units;
            counts.unattributed_index_write_units += d
                .touches
                .iter()
                .filter(|t| t.key.starts_with('('))
                .map(|t| t.write_units)
                .sum::<f64>();
        }
    }
    counts.calls = calls;
    if let Some(function) = &counts.function {
        counts.duration_ms = duration;
        counts.memory_mb = template.memory(function);
    }
    counts.shared_partitions = shared_partitions(&measured.runs);
    counts
}

/// Whether a partition key ends in a shard drawn from a stable hash of the record's key (`kernel::shard`): the
/// expiry index's day buckets (`APP#<day>#<shard>`), the review queues (`REVIEW#<shard>`,
/// `REVIEW#reported#<shard>`, `PASSREVIEW#<shard>`), the outboxes (`ISSUE#<shard>`, `NOTICE#<shard>`,
/// `STATUS#<shard>`), the refresh index (`REFRESH#<day>#<shard>`) and the unmatched check logs
/// (`CHECKS#unmatched#<day>#<shard>`). Each holder's write lands in one of several shards, so a key written in every
/// run is shared by chance only (one in the number of shards per run); a page that reads every shard still reads
/// each in every run, and those reads stay shared.
fn spread_by_hash(target: &str, key: &str) -> bool {
    let parts: Vec<&str> = key.split('#').collect();
    let shard = parts
        .last()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let day = |p: &str| chrono::NaiveDate::parse_from_str(p, "%Y-%m-%d").is_ok();
    shard
        && match (target, parts.as_slice()) {
            ("expiry", [kind, d, _]) => ["APP", "EDL", "PASS"].contains(kind) && day(d),
            ("refresh", ["REFRESH", d, _]) => day(d),
            ("queue", [queue, _]) | ("queue", [queue, "reported", _]) => ["REVIEW", "PASSREVIEW"].contains(queue),
            ("issue", [outbox, _]) => ["ISSUE", "NOTICE", "STATUS"].contains(outbox),
            (table, [log, "unmatched", d, _]) => {
                table.starts_with(crate::scenario::TABLE_PREFIX) && ["CHECKS", "PASSCHECKS"].contains(log) && day(d)
            }
            _ => false,
        }
}

/// Partitions whose key is the same in every run (at least two runs): every holder's request goes there.
fn shared_partitions(runs: &[Vec<Call>]) -> Vec<PartitionUse> {
    if runs.len() < 2 {
        return Vec::new();
    }
    let per_run: Vec<BTreeMap<(String, String), (f64, f64)>> = runs
        .iter()
        .map(|calls| {
            let mut map = BTreeMap::new();
            for touch in calls.iter().filter_map(|c| c.dynamo.as_ref()).flat_map(|d| &d.touches) {
                if touch.key.starts_with('(') && touch.key != "(whole table)" {
                    continue;
                }
                // A write to a hash-drawn shard: two runs that hit the same shard did so by chance.
                if touch.read_units == 0.0 && spread_by_hash(&touch.target, &touch.key) {
                    continue;
                }
                let entry = map
                    .entry((touch.target.clone(), touch.key.clone()))
                    .or_insert((0.0, 0.0));
                entry.0 += touch.read_units;
                entry.1 += touch.write_units;
            }
            map
        })
        .collect();
    let Some(last) = per_run.last() else {
        return Vec::new();
    };
    last.iter()
        .filter(|(key, _)| per_run.iter().all(|run| run.contains_key(*key)))
        .map(|((target, key), (read, write))| PartitionUse {
            // The base table's name is the run's own; indexes keep theirs.
            target: if target.starts_with(crate::scenario::TABLE_PREFIX) {
                "table".into()
            } else {
                target.clone()
            },
            key: key.clone(),
            read_units: *read,
            write_units: *write,
        })
        .collect()
}

/// Each operation's rate per second at the busiest hour of the profile.
pub fn peak_rates(profile: &Profile) -> BTreeMap<&'static str, f64> {
    let applications = profile.applications_per_day * profile.peak_hour_share / 3600.0;
    let new_photo = applications * profile.new_photo_share;
    let on_file = applications - new_photo;
    let v = profile.verifications_per_second;
    let mix = &profile.verification_mix;
    let trucks = profile.truck_applications_per_day * profile.peak_hour_share / 3600.0;
    let mut rates = BTreeMap::new();
    for (id, rate) in [
        ("open-on-file", on_file),
        ("open-new-photo", new_photo),
        ("liveness", on_file),
        ("upload-form", new_photo),
        ("upload", new_photo),
        ("photo-check", new_photo),
        ("review-queue", new_photo),
        ("review-item", new_photo),
        ("review-decision", new_photo),
        ("issue-on-file", on_file),
        ("issue-new-photo", new_photo),
        // Each new holder opens the licence once when it is issued.
        ("show-licence", applications),
        // Each code verified was shown first.
        ("show-code", v * mix.code * profile.new_code_share),
        ("show-code-reused", v * mix.code * (1.0 - profile.new_code_share)),
        ("verify-code", v * mix.code),
        ("verify-barcode", v * mix.barcode),
        ("verify-mdoc", v * mix.mdoc),
        ("truck-apply", trucks),
        ("truck-code", profile.truck_verifications_per_second),
        ("truck-verify", profile.truck_verifications_per_second),
        // A daily job, not part of the peak hour.
        ("expiry", 0.0),
    ] {
        rates.insert(id, rate);
    }
    rates
}

/// One quota: the demand the profile puts on it and where it binds.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaUse {
    pub quota: String,
    pub limit: f64,
    pub unit: String,
    pub demand: f64,
    /// The operations that make most of the demand.
    pub from: String,
}

impl QuotaUse {
    pub fn utilisation(&self) -> f64 {
        if self.limit > 0.0 {
            self.demand / self.limit
        } else {
            0.0
        }
    }
}

/// Per-operation cost per million operations, by service.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    pub id: String,
    pub dynamodb: f64,
    pub kms: f64,
    pub s3: f64,
    pub events: f64,
    pub api_gateway: f64,
    pub lambda: f64,
}

impl Cost {
    pub fn total(&self) -> f64 {
        self.dynamodb + self.kms + self.s3 + self.events + self.api_gateway + self.lambda
    }
}

pub struct Model {
    pub profile: Profile,
    pub rates: BTreeMap<&'static str, f64>,
    pub operations: Vec<OperationCounts>,
    pub quotas: Vec<QuotaUse>,
    pub costs: Vec<Cost>,
    pub expiry_items: usize,
}

pub fn model(measurement: &Measurement, profile: &Profile, template: &TemplateFacts) -> Model {
    let rates = peak_rates(profile);
    let operations: Vec<OperationCounts> = OPERATIONS
        .iter()
        .filter_map(|spec| measurement.get(spec.id))
        .map(|m| summarise(m, &profile.latency_ms, template))
        .collect();
    let rate = |id: &str| rates.get(id).copied().unwrap_or(0.0);
    let q = &profile.quotas;
    let mut quotas = Vec::new();
    let contributions = |value: &dyn Fn(&OperationCounts) -> f64| {
        let mut parts: Vec<(String, f64)> = operations
            .iter()
            .map(|o| (o.id.clone(), rate(&o.id) * value(o)))
            .filter(|(_, d)| *d > 0.0)
            .collect();
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        let demand: f64 = parts.iter().map(|(_, d)| d).sum();
        let from = parts
            .iter()
            .take(3)
            .map(|(id, d)| format!("{id} {d:.0}"))
            .collect::<Vec<_>>()
            .join(", ");
        (demand, from)
    };
    let (demand, from) = contributions(&|o| o.kms_signs as f64);
    quotas.push(QuotaUse {
        quota: "KMS ECC signing (account and region, every ECC key)".into(),
        limit: q.kms_ecc_per_second,
        unit: "Sign/s".into(),
        demand,
        from,
    });
    let (demand, from) = contributions(&|o| if o.route.is_some() { 1.0 } else { 0.0 });
    quotas.push(QuotaUse {
        quota: "API Gateway, account and region".into(),
        limit: q.api_gateway_account_rps,
        unit: "requests/s".into(),
        demand,
        from,
    });
    let mut routes: BTreeMap<String, Vec<&OperationCounts>> = BTreeMap::new();
    for o in &operations {
        if let Some(route) = &o.route {
            routes.entry(route.clone()).or_default().push(o);
        }
    }
    for (route, ops) in routes {
        let Some(limit) = template.route_limit(&route) else {
            continue;
        };
        let demand: f64 = ops.iter().map(|o| rate(&o.id)).sum();
        quotas.push(QuotaUse {
            quota: format!("API Gateway route throttle `{route}` (template.yaml)"),
            limit,
            unit: "requests/s".into(),
            demand,
            from: ops.iter().map(|o| o.id.as_str()).collect::<Vec<_>>().join(", "),
        });
    }
    let (demand, from) = contributions(&|o| o.duration_ms / 1000.0);
    quotas.push(QuotaUse {
        quota: "Lambda concurrent executions (account and region)".into(),
        limit: q.lambda_concurrency,
        unit: "executions".into(),
        demand,
        from,
    });
    let (reads, from_reads) = contributions(&|o| o.read_units);
    let (writes, from_writes) = contributions(&|o| o.write_units);
    quotas.push(QuotaUse {
        quota: "DynamoDB table reads, a new on-demand table's initial throughput".into(),
        limit: q.dynamodb_table_warm_read_units,
        unit: "RRU/s".into(),
        demand: reads,
        from: from_reads.clone(),
    });
    quotas.push(QuotaUse {
        quota: "DynamoDB table writes, a new on-demand table's initial throughput".into(),
        limit: q.dynamodb_table_warm_write_units,
        unit: "WRU/s".into(),
        demand: writes,
        from: from_writes.clone(),
    });
    quotas.push(QuotaUse {
        quota: "DynamoDB table reads, per-table quota".into(),
        limit: q.dynamodb_table_max_units,
        unit: "RRU/s".into(),
        demand: reads,
        from: from_reads,
    });
    quotas.push(QuotaUse {
        quota: "DynamoDB table writes, per-table quota".into(),
        limit: q.dynamodb_table_max_units,
        unit: "WRU/s".into(),
        demand: writes,
        from: from_writes,
    });
    // Shared partitions: the same key for every holder, so the national rate lands on one partition.
    type Load = (f64, Vec<String>);
    let mut partitions: BTreeMap<(String, String), (Load, Load)> = BTreeMap::new();
    for o in &operations {
        for p in &o.shared_partitions {
            let ((read, readers), (write, writers)) = partitions
                .entry((p.target.clone(), p.key.clone()))
                .or_insert(((0.0, Vec::new()), (0.0, Vec::new())));
            let r = rate(&o.id);
            if r * p.read_units > 0.0 {
                *read += r * p.read_units;
                readers.push(o.id.clone());
            }
            if r * p.write_units > 0.0 {
                *write += r * p.write_units;
                writers.push(o.id.clone());
            }
        }
    }
    for ((target, key), ((read, readers), (write, writers))) in partitions {
        if read > 0.0 {
            quotas.push(QuotaUse {
                quota: format!("DynamoDB partition `{target}` / `{key}`, reads"),
                limit: q.dynamodb_partition_read_units,
                unit: "RRU/s".into(),
                demand: read,
                from: readers.join(", "),
            });
        }
        if write > 0.0 {
            quotas.push(QuotaUse {
                quota: format!("DynamoDB partition `{target}` / `{key}`, writes"),
                limit: q.dynamodb_partition_write_units,
                unit: "WRU/s".into(),
                demand: write,
                from: writers.join(", "),
            });
        }
    }
    quotas.sort_by(|a, b| b.utilisation().total_cmp(&a.utilisation()));
    let p = &profile.prices;
    let costs: Vec<Cost> = operations
        .iter()
        .map(|o| {
            let other_kms = o
                .calls
                .iter()
                .filter(|(k, _)| k.starts_with("kms:"))
                .map(|(_, n)| n)
                .sum::<usize>()
                - o.kms_signs;
            let lambda = match &o.function {
                Some(_) => {
                    p.lambda_per_million_requests
                        + o.memory_mb / 1024.0 * o.duration_ms / 1000.0 * p.lambda_arm_per_gb_second * 1e6
                }
                None => 0.0,
            };
            Cost {
                id: o.id.clone(),
                dynamodb: o.write_units * p.dynamodb_per_million_write_units
                    + o.read_units * p.dynamodb_per_million_read_units,
                kms: o.kms_signs as f64 * p.kms_per_10k_asymmetric * 100.0
                    + other_kms as f64 * p.kms_per_10k_other * 100.0,
                s3: o.s3_put_class as f64 * p.s3_per_1k_put_post_copy_list * 1000.0
                    + o.s3_get_class as f64 * p.s3_per_1k_get_head * 1000.0,
                events: o.event_entries as f64 * p.events_per_million_entries,
                api_gateway: if o.route.is_some() {
                    p.api_gateway_http_per_million
                } else {
                    0.0
                },
                lambda,
            }
        })
        .collect();
    // The expiry run's cost is for the whole run: per item, so that its row is per million items ended.
    let items = measurement.expiry_items.max(1) as f64;
    let costs = costs
        .into_iter()
        .map(|c: Cost| {
            if c.id == "expiry" {
                Cost {
                    dynamodb: c.dynamodb / items,
                    kms: c.kms / items,
                    s3: c.s3 / items,
                    events: c.events / items,
                    api_gateway: c.api_gateway / items,
                    lambda: c.lambda / items,
                    id: "expiry (per item ended)".into(),
                }
            } else {
                c
            }
        })
        .collect();
    Model {
        profile: profile.clone(),
        rates,
        operations,
        quotas,
        costs,
        expiry_items: measurement.expiry_items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_profile_peaks_at_167_applications_a_second() {
        let rates = peak_rates(&Profile::default());
        let open = rates["open-on-file"] + rates["open-new-photo"];
        assert!((open - 166.67).abs() < 0.01, "{open}");
        assert!((rates["review-decision"] - 50.0).abs() < 0.01);
        assert!((rates["verify-code"] - 350.0).abs() < 0.01);
    }

    #[test]
    fn writes_to_hash_drawn_shards_are_not_shared_by_chance() {
        let table = format!("{}1", crate::scenario::TABLE_PREFIX);
        for (target, key) in [
            ("expiry", "APP#2027-01-04#7"),
            ("expiry", "EDL#2032-06-18#0"),
            ("queue", "REVIEW#3"),
            ("queue", "REVIEW#reported#1"),
            ("queue", "PASSREVIEW#2"),
            ("issue", "ISSUE#5"),
            ("refresh", "REFRESH#2027-01-04#1"),
            (table.as_str(), "CHECKS#unmatched#2027-01-04#6"),
        ] {
            assert!(spread_by_hash(target, key), "{target} {key}");
        }
        for (target, key) in [
            ("expiry", "APP#2027-01-04"),
            ("queue", "REVIEW"),
            (table.as_str(), "ROLLOUT"),
            (table.as_str(), "EDL#11000026112500001234"),
            (table.as_str(), "QUOTA#org#1796432400#7"),
            (table.as_str(), "CHECKS#unmatched#2027-01-04"),
        ] {
            assert!(!spread_by_hash(target, key), "{target} {key}");
        }
    }

    #[test]
    fn the_template_gives_memory_and_route_throttles() {
        let facts = TemplateFacts::read(edl_local_api::routes::TEMPLATE).expect("template");
        assert_eq!(facts.route_limit("POST /verifications"), Some(3000.0));
        assert_eq!(facts.route_limit("GET /licence"), facts.default_route_rate_limit);
        assert!(facts.memory("issue") >= facts.default_memory_mb);
    }
}
