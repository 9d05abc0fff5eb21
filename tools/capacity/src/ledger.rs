//! What the counting proxy saw: each AWS call by service and operation, and the DynamoDB capacity it used, per partition.

use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// One AWS call as it crossed the proxy.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub status: u16,
    /// The fault the plan answered with instead of the emulator, if any.
    pub injected: Option<String>,
    /// Entries of a `PutEvents` (EventBridge bills per entry).
    pub entries: usize,
    pub dynamo: Option<DynamoUse>,
}

/// The capacity one DynamoDB call used.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamoUse {
    /// Read units by DynamoDB's rules, from the sizes of the items returned.
    pub read_units: f64,
    /// Read units the emulator reported (`ReturnConsumedCapacity`).
    pub reported_read_units: f64,
    /// Write units the emulator reported, table and indexes (it sizes the items it wrote).
    pub reported_write_units: f64,
    /// Where the units went: the partition of the table or index each item lives in.
    pub touches: Vec<Touch>,
}

/// Capacity used in one partition: `target` is the table or index, `key` the partition key value.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Touch {
    pub target: String,
    pub key: String,
    pub read_units: f64,
    pub write_units: f64,
}

/// A table's keys, learnt from the `CreateTable` call that made it.
#[derive(Debug, Clone, Default)]
struct Schema {
    partition_key: String,
    sort_key: Option<String>,
    /// Index name and its partition key attribute.
    indexes: Vec<(String, String)>,
}

/// Every call since the last `take`, and the table schemas seen so far.
#[derive(Default)]
pub struct Ledger {
    calls: Mutex<Vec<Call>>,
    schemas: Mutex<HashMap<String, Schema>>,
}

impl Ledger {
    pub fn record(&self, call: Call) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
    }

    /// The calls recorded since the previous `take`.
    pub fn take(&self) -> Vec<Call> {
        self.calls
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }

    /// Remembers a table's keys from its `CreateTable` request.
    pub fn learn_schema(&self, request: &Value) {
        let Some(table) = request["TableName"].as_str() else {
            return;
        };
        let hash_of = |schema: &Value| {
            schema
                .as_array()
                .and_then(|keys| keys.iter().find(|k| k["KeyType"] == "HASH"))
                .and_then(|k| k["AttributeName"].as_str())
                .map(str::to_string)
        };
        let Some(partition_key) = hash_of(&request["KeySchema"]) else {
            return;
        };
        let sort_key = request["KeySchema"]
            .as_array()
            .and_then(|keys| keys.iter().find(|k| k["KeyType"] == "RANGE"))
            .and_then(|k| k["AttributeName"].as_str())
            .map(str::to_string);
        let indexes = request["GlobalSecondaryIndexes"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|i| Some((i["IndexName"].as_str()?.to_string(), hash_of(&i["KeySchema"])?)))
                    .collect()
            })
            .unwrap_or_default();
        if let Ok(mut schemas) = self.schemas.lock() {
            schemas.insert(
                table.to_string(),
                Schema {
                    partition_key,
                    sort_key,
                    indexes,
                },
            );
        }
    }

    fn schema(&self, table: &str) -> Schema {
        self.schemas
            .lock()
            .ok()
            .and_then(|s| s.get(table).cloned())
            .unwrap_or_default()
    }

    /// The items a write may replace or remove, as `(table, key)`: their index entries
    /// move or go, and only the items as they were name those entries' partitions.
    pub fn items_written(&self, operation: &str, request: &Value) -> Vec<(String, Value)> {
        write_actions(operation, request)
            .iter()
            .filter_map(|action| {
                let (kind, body) = action.as_object()?.iter().next()?;
                let table = body["TableName"].as_str()?.to_string();
                let key = match kind.as_str() {
                    "Put" => {
                        let schema = self.schema(&table);
                        let mut key = Map::new();
                        for name in std::iter::once(&schema.partition_key).chain(schema.sort_key.as_ref()) {
                            key.insert(name.clone(), body["Item"].get(name)?.clone());
                        }
                        Value::Object(key)
                    }
                    "Update" | "Delete" => body["Key"].clone(),
                    _ => return None,
                };
                Some((table, key))
            })
            .collect()
    }

    /// The capacity a DynamoDB call used, from its request, the emulator's answer,
    /// and the items the write replaced as they were before (`prior`, by `prior_key`).
    pub fn dynamo_use(
        &self,
        operation: &str,
        request: &Value,
        response: &Value,
        prior: &HashMap<String, Value>,
    ) -> DynamoUse {
        let (reported_read_units, reported_write_units) = reported(operation, &response["ConsumedCapacity"]);
        let mut usage = DynamoUse {
            reported_read_units,
            reported_write_units,
            ..DynamoUse::default()
        };
        match operation {
            "GetItem" => {
                let table = request["TableName"].as_str().unwrap_or_default();
                let size = response["Item"].as_object().map(item_size).unwrap_or(0);
                let units = read_units(size, consistent(request));
                usage.read_units = units;
                usage.touches.push(Touch {
                    target: table.into(),
                    key: self.key_of(table, &request["Key"]),
                    read_units: units,
                    write_units: 0.0,
                });
            }
            "Query" | "Scan" => {
                let table = request["TableName"].as_str().unwrap_or_default();
                let items = response["Items"].as_array().cloned().unwrap_or_default();
                let returned: usize = items.iter().filter_map(Value::as_object).map(item_size).sum();
                // A filter drops items after they are read (and billed): scale by what was scanned.
                let count = response["Count"].as_u64().unwrap_or(0);
                let scanned = response["ScannedCount"].as_u64().unwrap_or(count);
                let size = if count > 0 && scanned > count {
                    returned * usize::try_from(scanned).unwrap_or(0) / usize::try_from(count).unwrap_or(1)
                } else {
                    returned
                };
                let units = read_units(size, consistent(request));
                usage.read_units = units;
                let (target, key) = match request["IndexName"].as_str() {
                    Some(index) => (index.to_string(), self.query_key(table, Some(index), request)),
                    None if operation == "Scan" => (table.to_string(), "(whole table)".into()),
                    None => (table.to_string(), self.query_key(table, None, request)),
                };
                usage.touches.push(Touch {
                    target,
                    key,
                    read_units: units,
                    write_units: 0.0,
                });
            }
            "BatchGetItem" => {
                if let Some(tables) = request["RequestItems"].as_object() {
                    for (table, ask) in tables {
                        let keys = ask["Keys"].as_array().cloned().unwrap_or_default();
                        let items = response["Responses"][table].as_array().cloned().unwrap_or_default();
                        let factor = if ask["ConsistentRead"] == true { 1.0 } else { 0.5 };
                        let units: f64 = items
                            .iter()
                            .filter_map(Value::as_object)
                            .map(|i| blocks(item_size(i), 4096) * factor)
                            .sum();
                        usage.read_units += units;
                        for key in &keys {
                            usage.touches.push(Touch {
                                target: table.clone(),
                                key: self.key_of(table, key),
                                read_units: units / keys.len().max(1) as f64,
                                write_units: 0.0,
                            });
                        }
                    }
                }
            }
            "TransactGetItems" => {
                let asks = request["TransactItems"].as_array().cloned().unwrap_or_default();
                let answers = response["Responses"].as_array().cloned().unwrap_or_default();
                for (i, ask) in asks.iter().enumerate() {
                    let get = &ask["Get"];
                    let table = get["TableName"].as_str().unwrap_or_default();
                    let size = answers
                        .get(i)
                        .and_then(|a| a["Item"].as_object())
                        .map(item_size)
                        .unwrap_or(0);
                    let units = 2.0 * blocks(size, 4096);
                    usage.read_units += units;
                    usage.touches.push(Touch {
                        target: table.into(),
                        key: self.key_of(table, &get["Key"]),
                        read_units: units,
                        write_units: 0.0,
                    });
                }
            }
            "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems" | "BatchWriteItem" => {
                let actions = write_actions(operation, request);
                let before: Vec<Option<Value>> = self
                    .items_written(operation, request)
                    .iter()
                    .map(|(table, key)| prior.get(&prior_key(table, key)).cloned())
                    .collect();
                self.write_touches(&mut usage, &actions, &before, &response["ConsumedCapacity"]);
            }
            _ => {}
        }
        usage
    }

    /// Spreads the write units the emulator reported per table and index over
    /// the partitions the actions wrote: evenly over a table's items, and over
    /// the items that set an index's key for that index.
    fn write_touches(&self, usage: &mut DynamoUse, actions: &[Value], before: &[Option<Value>], consumed: &Value) {
        let entries: Vec<Value> = match consumed {
            Value::Array(list) => list.clone(),
            Value::Object(_) => vec![consumed.clone()],
            _ => Vec::new(),
        };
        for entry in entries {
            let Some(table) = entry["TableName"].as_str() else {
                continue;
            };
            let schema = self.schema(table);
            let index_units: Vec<(String, f64)> = entry["GlobalSecondaryIndexes"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(name, units)| (name.clone(), units["CapacityUnits"].as_f64().unwrap_or(0.0)))
                        .collect()
                })
                .unwrap_or_default();
            let total = entry["CapacityUnits"].as_f64().unwrap_or(0.0);
            let table_units = entry["Table"]["CapacityUnits"]
                .as_f64()
                .or_else(|| entry["WriteCapacityUnits"].as_f64())
                .unwrap_or(total - index_units.iter().map(|(_, u)| u).sum::<f64>());
            // The table's items this entry covers, with the action that wrote each.
            let writes: Vec<(&str, &Value)> = actions
                .iter()
                .filter_map(|a| {
                    let (kind, body) = a.as_object()?.iter().next()?;
                    (body["TableName"].as_str() == Some(table)).then_some((kind.as_str(), body))
                })
                .collect();
            let writers: Vec<&(&str, &Value)> = writes.iter().filter(|(k, _)| *k != "ConditionCheck").collect();
            // The items replaced or updated, as they were: their index entries are rewritten or removed.
            let earlier: Vec<&Value> = actions
                .iter()
                .filter_map(|a| a.as_object()?.iter().next())
                .filter(|(kind, _)| kind.as_str() != "ConditionCheck")
                .zip(before)
                .filter(|((_, body), _)| body["TableName"].as_str() == Some(table))
                .filter_map(|(_, item)| item.as_ref())
                .collect();
            for (kind, body) in &writes {
                let key = if *kind == "Put" {
                    body["Item"][&schema.partition_key].clone()
                } else {
                    body["Key"][&schema.partition_key].clone()
                };
                let units = if *kind == "ConditionCheck" || writers.is_empty() {
                    0.0
                } else {
                    table_units / writers.len() as f64
                };
                usage.touches.push(Touch {
                    target: table.into(),
                    key: value_text(&key),
                    read_units: 0.0,
                    write_units: units,
                });
            }
            for (index, units) in index_units {
                if units <= 0.0 {
                    continue;
                }
                let attribute = schema
                    .indexes
                    .iter()
                    .find(|(name, _)| *name == index)
                    .map(|(_, a)| a.clone())
                    .unwrap_or_default();
                let mut keys: Vec<String> = writers
                    .iter()
                    .filter_map(|(kind, body)| index_key_written(kind, body, &attribute))
                    .chain(earlier.iter().filter_map(|item| item.get(&attribute).map(value_text)))
                    .collect();
                keys.sort();
                keys.dedup();
                if keys.is_empty() {
                    usage.touches.push(Touch {
                        target: index,
                        key: "(an entry removed or replaced: its key is not in the request)".into(),
                        read_units: 0.0,
                        write_units: units,
                    });
                } else {
                    for key in &keys {
                        usage.touches.push(Touch {
                            target: index.clone(),
                            key: key.clone(),
                            read_units: 0.0,
                            write_units: units / keys.len() as f64,
                        });
                    }
                }
            }
        }
    }

    fn key_of(&self, table: &str, key: &Value) -> String {
        value_text(&key[&self.schema(table).partition_key])
    }

    /// The partition key value a query's key condition names.
    fn query_key(&self, table: &str, index: Option<&str>, request: &Value) -> String {
        let schema = self.schema(table);
        let attribute = match index {
            Some(index) => schema
                .indexes
                .iter()
                .find(|(name, _)| name == index)
                .map(|(_, a)| a.clone())
                .unwrap_or_default(),
            None => schema.partition_key,
        };
        let names = &request["ExpressionAttributeNames"];
        let values = &request["ExpressionAttributeValues"];
        let condition = request["KeyConditionExpression"].as_str().unwrap_or_default();
        for clause in split_and(condition) {
            let clause = clause.trim().trim_start_matches('(').trim_end_matches(')');
            let Some((left, right)) = clause.split_once('=') else {
                continue;
            };
            if left.ends_with(['<', '>', '!']) {
                continue;
            }
            if resolve(left.trim(), names) == attribute {
                return value_text(&values[right.trim()]);
            }
        }
        "(unknown)".into()
    }
}

/// The write actions of a request, each `{"Put"|"Update"|"Delete"|"ConditionCheck": {...}}` as in a transaction.
fn write_actions(operation: &str, request: &Value) -> Vec<Value> {
    let wrap = |kind: &str, body: Value| {
        let mut wrapped = Map::new();
        wrapped.insert(kind.into(), body);
        Value::Object(wrapped)
    };
    match operation {
        "PutItem" => vec![wrap("Put", request.clone())],
        "UpdateItem" => vec![wrap("Update", request.clone())],
        "DeleteItem" => vec![wrap("Delete", request.clone())],
        "TransactWriteItems" => request["TransactItems"].as_array().cloned().unwrap_or_default(),
        "BatchWriteItem" => {
            let mut actions = Vec::new();
            if let Some(tables) = request["RequestItems"].as_object() {
                for (table, writes) in tables {
                    for write in writes.as_array().cloned().unwrap_or_default() {
                        if let Some(item) = write["PutRequest"]["Item"].as_object() {
                            actions.push(wrap("Put", serde_json::json!({ "TableName": table, "Item": item })));
                        } else if let Some(key) = write["DeleteRequest"]["Key"].as_object() {
                            actions.push(wrap("Delete", serde_json::json!({ "TableName": table, "Key": key })));
                        }
                    }
                }
            }
            actions
        }
        _ => Vec::new(),
    }
}

/// How the item a write replaced is looked up in `dynamo_use`'s `prior`.
pub fn prior_key(table: &str, key: &Value) -> String {
    format!("{table}|{key}")
}

/// The key an index gets from a written item: a put's attribute, or an update's `SET name = :value`.
fn index_key_written(kind: &str, body: &Value, attribute: &str) -> Option<String> {
    match kind {
        "Put" => body["Item"].get(attribute).map(value_text),
        "Update" => {
            let expression = body["UpdateExpression"].as_str()?;
            let names = &body["ExpressionAttributeNames"];
            let values = &body["ExpressionAttributeValues"];
            let set = set_clause(expression)?;
            set.split(',').find_map(|assignment| {
                let (left, right) = assignment.split_once('=')?;
                (resolve(left.trim(), names) == attribute)
                    .then(|| values.get(right.trim()).map(value_text))
                    .flatten()
            })
        }
        _ => None,
    }
}

/// The `SET ...` part of an update expression, up to the next clause.
fn set_clause(expression: &str) -> Option<&str> {
    let upper = expression.to_ascii_uppercase();
    let start = upper.find("SET ")? + 4;
    let rest = &upper[start..];
    let end = [" REMOVE ", " ADD ", " DELETE "]
        .iter()
        .filter_map(|k| rest.find(k))
        .min()
        .map(|e| start + e)
        .unwrap_or(expression.len());
    expression.get(start..end)
}

fn split_and(expression: &str) -> Vec<&str> {
    let upper = expression.to_ascii_uppercase();
    let mut pieces = Vec::new();
    let mut from = 0;
    while let Some(at) = upper[from..].find(" AND ") {
        pieces.push(&expression[from..from + at]);
        from += at + 5;
    }
    pieces.push(&expression[from..]);
    pieces
}

fn resolve(name: &str, names: &Value) -> String {
    names
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| name.to_string())
}

/// An attribute value as text: a string's characters, a number's digits.
pub fn value_text(value: &Value) -> String {
    match value.as_object().and_then(|o| o.iter().next()) {
        Some((_, Value::String(s))) => s.clone(),
        Some((kind, other)) => format!("{kind}:{other}"),
        None => "(none)".into(),
    }
}

fn consistent(request: &Value) -> bool {
    request["ConsistentRead"] == true
}

/// Units in `size`-byte blocks, at least one.
fn blocks(bytes: usize, block: usize) -> f64 {
    bytes.div_ceil(block).max(1) as f64
}

/// Read units by DynamoDB's rules: 4 KB per unit for a strongly consistent read, half for an eventually consistent one.
pub fn read_units(bytes: usize, consistent: bool) -> f64 {
    blocks(bytes, 4096) * if consistent { 1.0 } else { 0.5 }
}

/// An item's size by DynamoDB's rules: each attribute's name plus its value.
pub fn item_size(item: &Map<String, Value>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    let strings = || inner.as_array().cloned().unwrap_or_default();
    match kind.as_str() {
        "S" => inner.as_str().map(str::len).unwrap_or(0),
        "N" => number_size(inner.as_str().unwrap_or("0")),
        "B" => binary_size(inner),
        "BOOL" | "NULL" => 1,
        "SS" => strings().iter().filter_map(Value::as_str).map(str::len).sum(),
        "NS" => strings().iter().filter_map(Value::as_str).map(number_size).sum(),
        "BS" => strings().iter().map(binary_size).sum(),
        // Lists and maps: 3 bytes, plus 1 byte per element.
        "L" => 3 + strings().iter().map(|e| value_size(e) + 1).sum::<usize>(),
        "M" => {
            3 + inner
                .as_object()
                .map(|m| m.iter().map(|(k, v)| k.len() + value_size(v) + 1).sum::<usize>())
                .unwrap_or(0)
        }
        _ => 0,
    }
}

/// A number: about one byte per two significant digits, plus one.
fn number_size(text: &str) -> usize {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}

fn binary_size(value: &Value) -> usize {
    value
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| b.len())
        .unwrap_or(0)
}

/// The read and write units the emulator reported for a call.
fn reported(operation: &str, consumed: &Value) -> (f64, f64) {
    let entries: Vec<&Value> = match consumed {
        Value::Array(list) => list.iter().collect(),
        Value::Object(_) => vec![consumed],
        _ => Vec::new(),
    };
    let total: f64 = entries.iter().filter_map(|e| e["CapacityUnits"].as_f64()).sum();
    let reads = matches!(
        operation,
        "GetItem" | "Query" | "Scan" | "BatchGetItem" | "TransactGetItems"
    );
    if reads {
        (total, 0.0)
    } else {
        (0.0, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn item_sizes_follow_dynamodb_rules() {
        // "pk" (2) + "LICENCE#1" (9) = 11; "n" (1) + 12345 (5 digits → 3 + 1) = 5.
        let item = json!({ "pk": { "S": "LICENCE#1" }, "n": { "N": "12345" } });
        assert_eq!(item_size(item.as_object().expect("object")), 16);
        let nested = json!({ "m": { "M": { "a": { "BOOL": true } } } });
        // "m" (1) + 3 + ("a" 1 + 1 + 1) = 7.
        assert_eq!(item_size(nested.as_object().expect("object")), 7);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, false), 1.0);
        assert_eq!(read_units(0, false), 0.5);
    }

    #[test]
    fn a_query_names_its_partition_and_updates_name_index_keys() {
        let ledger = Ledger::default();
        ledger.learn_schema(&json!({
            "TableName": "t",
            "KeySchema": [{ "AttributeName": "pk", "KeyType": "HASH" }],
            "GlobalSecondaryIndexes": [{ "IndexName": "queue",
                "KeySchema": [{ "AttributeName": "queuePk", "KeyType": "HASH" }] }],
        }));
        let query = json!({
            "TableName": "t", "IndexName": "queue",
            "KeyConditionExpression": "#p = :p AND #s BETWEEN :a AND :b",
            "ExpressionAttributeNames": { "#p": "queuePk", "#s": "queueSk" },
            "ExpressionAttributeValues": { ":p": { "S": "REVIEW" }, ":a": { "S": "0" }, ":b": { "S": "9" } },
        });
        let usage = ledger.dynamo_use(
            "Query",
            &query,
            &json!({ "Items": [], "Count": 0, "ScannedCount": 0 }),
            &HashMap::new(),
        );
        assert_eq!(usage.touches[0].key, "REVIEW");
        let update = json!({ "TransactItems": [{ "Update": {
            "TableName": "t", "Key": { "pk": { "S": "APP#1" } },
            "UpdateExpression": "SET #q = :q, v = :v REMOVE x",
            "ExpressionAttributeNames": { "#q": "queuePk" },
            "ExpressionAttributeValues": { ":q": { "S": "REVIEW" }, ":v": { "N": "2" } },
        } }] });
        let consumed = json!({ "ConsumedCapacity": [{ "TableName": "t", "CapacityUnits": 3.0,
            "WriteCapacityUnits": 2.0, "GlobalSecondaryIndexes": { "queue": { "CapacityUnits": 1.0 } } }] });
        // The application was in the `DRAFT` queue partition before: that entry moves.
        let mut prior = HashMap::new();
        prior.insert(
            prior_key("t", &json!({ "pk": { "S": "APP#1" } })),
            json!({ "pk": { "S": "APP#1" }, "queuePk": { "S": "DRAFT" } }),
        );
        let usage = ledger.dynamo_use("TransactWriteItems", &update, &consumed, &prior);
        assert_eq!(usage.reported_write_units, 3.0);
        for key in ["REVIEW", "DRAFT"] {
            assert!(
                usage.touches.contains(&Touch {
                    target: "queue".into(),
                    key: key.into(),
                    read_units: 0.0,
                    write_units: 0.5
                }),
                "{:?}",
                usage.touches
            );
        }
        assert!(usage
            .touches
            .iter()
            .any(|t| t.target == "t" && t.key == "APP#1" && t.write_units == 2.0));
    }
}
