//! Bad input (issue 15 item 7): every refusal is a 4xx problem with a stable type that writes nothing, and no
//! byte sequence in a path, header or body of any route panics the local server or draws a 5xx.

use edl_local_api::routes::{routes_from_template, TEMPLATE};
use edl_local_api::server::LocalApi;
use edl_tests::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use shared::kernel::caller::Role;
use std::collections::BTreeMap;
use std::sync::Arc;

// ---------------------------------------------------------------- through the functions, on both adapters

async fn get(h: &Harness, route: &str, parameters: &[(&str, &str)], who: Option<Value>) -> Answer {
    h.call(request(route, parameters, who, None, None)).await
}

/// The field a 400 problem names.
fn field_of(answer: &Answer) -> &str {
    assert_eq!(
        (answer.status, answer.problem()),
        (400, "invalid-request"),
        "{answer:?}"
    );
    answer.body["errors"][0]["field"].as_str().unwrap_or("")
}

/// An empty body once read as "switch off": `goLiveAt` is required, and only an explicit null switches off.
async fn switching_needs_an_explicit_go_live(h: Harness) {
    let rollout = || get(&h, "GET /admin/rollout", &[], admin());
    let before = rollout().await;
    assert_eq!(before.status, 200, "{before:?}");
    let wave = |body: &'static str| {
        h.call(request(
            "PUT /admin/rollout/waves/{wave}",
            &[("wave", "1")],
            admin(),
            Some("application/json"),
            Some(body),
        ))
    };
    let empty = wave("{}").await;
    assert_eq!((empty.status, empty.problem()), (400, "invalid-request"), "{empty:?}");
    assert!(
        empty.body["detail"].as_str().unwrap_or("").contains("goLiveAt"),
        "{empty:?}"
    );
    assert_eq!(rollout().await.body["waves"], before.body["waves"], "nothing switched");

    let cities = || get(&h, "GET /truck/cities", &[], holder(ZHANG_WEI));
    let before = cities().await;
    assert_eq!(before.status, 200, "{before:?}");
    let batch = h
        .call(request(
            "PUT /admin/truck/rollout/batches/{batch}",
            &[("batch", "1")],
            admin(),
            Some("application/json"),
            Some("{}"),
        ))
        .await;
    assert_eq!((batch.status, batch.problem()), (400, "invalid-request"), "{batch:?}");
    assert_eq!(cities().await.body, before.body, "no truck city switched");

    // Switching off is said in so many words.
    let off = wave(r#"{"goLiveAt":null}"#).await;
    assert_eq!(off.status, 200, "{off:?}");
    assert_eq!(off.body["goLiveAt"], Value::Null, "{off:?}");
}

/// Identifiers in paths and bodies match their pattern; a refusal names the field and nothing is stored.
async fn identifiers_match_their_pattern(h: Harness) {
    let refused = [
        ("GET /truck/cities/{city}", "city", "../../x", holder(ZHANG_WEI)),
        ("GET /admin/truck/cities/{city}", "city", "11000", admin()),
        ("GET /admin/licences/{number}", "number", "1101/0519900307451X", admin()),
        ("GET /applications/{id}", "id", "../../x", holder(ZHANG_WEI)),
        (
            "GET /truck/passes/{id}",
            "id",
            "TP1100002611258392041",
            holder(ZHANG_WEI),
        ),
        ("GET /licence/pages/{page}", "page", "../front.png", holder(ZHANG_WEI)),
    ];
    for (route, name, value, who) in refused {
        let answer = get(&h, route, &[(name, value)], who).await;
        assert_eq!(field_of(&answer), name, "{route} {value}: {answer:?}");
    }
    let wave = h
        .call(json_request(
            "PUT /admin/rollout/waves/{wave}",
            &[("wave", "2C")],
            admin(),
            &json!({ "goLiveAt": "now" }),
        ))
        .await;
    assert_eq!(field_of(&wave), "wave", "{wave:?}");

    // A zone id that is a path was stored as given.
    let event: Value = serde_json::from_str(include_str!("../events/admin-change-truck-city.json")).expect("event");
    let mut change: Value = serde_json::from_str(event["body"].as_str().expect("body")).expect("body JSON");
    let rules = || get(&h, "GET /admin/truck/cities/{city}", &[("city", "110000")], admin());
    let before = rules().await;
    assert_eq!(before.status, 200, "{before:?}");
    for id in ["../../x", "Ring-5", "ring 5", "", "张"] {
        change["zones"][0]["id"] = json!(id);
        let answer = h
            .call(json_request(
                "PUT /admin/truck/cities/{city}",
                &[("city", "110000")],
                admin(),
                &change,
            ))
            .await;
        assert_eq!(field_of(&answer), "zones", "{id:?}: {answer:?}");
    }
    assert_eq!(rules().await.body, before.body, "the rules are unchanged");
}

/// Times of day are `HH:MM` exactly, 00:00 to 23:59, with 24:00 only as an end.
async fn times_of_day_are_hh_mm(h: Harness) {
    let who = || {
        let mut c = claims(
            &format!("fleet-manager-{}", shared::sample::FLEET),
            "fleet_manager",
            None,
        );
        c["org"] = json!(shared::sample::FLEET);
        Some(c)
    };
    let passes = || get(&h, "GET /truck/passes", &[], who());
    let before = passes().await;
    assert_eq!(before.status, 200, "{before:?}");
    for (from, to) in [
        ("09:00", "23:59:60"),
        ("9:00", "16:00"),
        ("09:00:00.999999999", "16:00"),
        ("09:00:00", "16:00"),
        ("24:00", "24:00"),
        ("09:00", "24:01"),
        ("09:60", "16:00"),
    ] {
        let body = json!({
            "plate": "京B20001", "city": "110000", "passType": "short", "zones": ["ring-5"],
            "validFrom": "2026-12-05", "validTo": "2026-12-06", "windows": [{ "from": from, "to": to }],
        });
        let answer = h.call(json_request("POST /truck/passes", &[], who(), &body)).await;
        assert_eq!(
            (answer.status, answer.problem()),
            (400, "invalid-request"),
            "{from}–{to}: {answer:?}"
        );
        assert!(
            answer.body["detail"].as_str().unwrap_or("").contains("HH:MM"),
            "{answer:?}"
        );
    }
    assert_eq!(passes().await.body, before.body, "no pass written");
}

/// A problem quotes a short prefix of what it refuses: a 4 MB bad import is not answered with 4 MB.
async fn problems_quote_a_short_prefix(h: Harness) {
    let lines = format!(
        "{}\n{}\n",
        json!("张".repeat(700_000)),
        json!({ "number": "x".repeat(2_000_000) })
    );
    assert!(
        lines.len() > 4_000_000 && lines.len() < edl_admin::MAX_IMPORT_BODY,
        "{}",
        lines.len()
    );
    let answer = h
        .call(request(
            "POST /admin/licences",
            &[],
            admin(),
            Some("application/x-ndjson"),
            Some(&lines),
        ))
        .await;
    assert_eq!(
        (answer.status, answer.problem()),
        (400, "invalid-request"),
        "{}",
        answer.status
    );
    assert!(answer.bytes.len() < 8 * 1024, "a {} byte problem", answer.bytes.len());
    assert!(
        answer.body["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{answer:?}"
    );

    let city = "1".repeat(10_000);
    let answer = get(&h, "GET /truck/cities/{city}", &[("city", &city)], holder(ZHANG_WEI)).await;
    assert_eq!(field_of(&answer), "city");
    assert!(answer.bytes.len() < 2 * 1024, "a {} byte problem", answer.bytes.len());
}

/// A `Content-Type` that is not text was dropped, and the body taken as JSON.
async fn a_content_type_that_is_not_text_is_refused(h: Harness) {
    let answer = h
        .call(request(
            "POST /applications",
            &[],
            holder(ZHANG_WEI),
            Some("application/json\u{e9}"),
            Some(r#"{"photoSource":"on_file"}"#),
        ))
        .await;
    assert_eq!(
        (answer.status, answer.problem()),
        (415, "unsupported-media-type"),
        "{answer:?}"
    );
    // Nothing was opened: the same application, properly typed, is the first.
    let opened = h
        .call(json_request(
            "POST /applications",
            &[],
            holder(ZHANG_WEI),
            &json!({ "photoSource": "on_file" }),
        ))
        .await;
    assert_eq!(opened.status, 201, "{opened:?}");
}

edl_tests::on_both_adapters!(
    |records| edl_tests::harness(std::sync::Arc::new(records), 5).await;
    switching_needs_an_explicit_go_live,
    identifiers_match_their_pattern,
    times_of_day_are_hh_mm,
    problems_quote_a_short_prefix,
    a_content_type_that_is_not_text_is_refused,
);

// ---------------------------------------------------------------- the local server, in process and on loopback

async fn local_api() -> LocalApi {
    let keys = shared::dev::DevKeys::random();
    let local = edl_local_api::local_services(&edl_local_api::Storage::Embedded, &keys, 5, 2026, "http://127.0.0.1:9")
        .await
        .expect("local services");
    LocalApi::new(
        local.services,
        local.ports,
        routes_from_template(TEMPLATE).expect("routes"),
        keys,
        local.embedded_photos,
        local.notices,
        local.approvals,
    )
}

struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

async fn dispatch(api: &LocalApi, request: http::Request<Vec<u8>>) -> Reply {
    use http_body_util::BodyExt;
    let (parts, body) = request.into_parts();
    let response = api.dispatch(parts, bytes::Bytes::from(body)).await;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
    Reply {
        status,
        content_type,
        body,
    }
}

/// Not a 5xx, and a refusal is a problem document with a stable type.
fn assert_answered(reply: &Reply, what: &str) {
    assert!(
        reply.status < 500,
        "{what}: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    if !(200..300).contains(&reply.status) {
        assert_eq!(
            reply.content_type, "application/problem+json",
            "{what}: {}",
            reply.status
        );
        let problem: Value = serde_json::from_slice(&reply.body).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            problem["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:edl:problem:")),
            "{what}: {problem}"
        );
        assert_eq!(
            problem["status"].as_u64(),
            Some(u64::from(reply.status)),
            "{what}: {problem}"
        );
    }
}

/// A path of `route` with each parameter replaced by `value`.
fn path_of(pattern: &str, value: &str) -> String {
    pattern
        .split('/')
        .map(|segment| if segment.starts_with('{') { value } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

/// `%` before a multibyte character sliced inside it and panicked the router, without a token, on every route
/// with a parameter; escapes of bytes that are not UTF-8 are a 400 problem.
#[tokio::test]
async fn a_percent_before_a_multibyte_character_is_a_problem_not_a_panic() {
    let api = local_api().await;
    let token = api.mint(Role::Admin, None, None, None).0;
    for route in routes_from_template(TEMPLATE).expect("routes") {
        if !route.path.contains('{') {
            continue;
        }
        for value in ["%张", "%9张", "%E5%BC", "%FF", "%"] {
            for authorization in [None, Some(format!("Bearer {token}"))] {
                let path = path_of(&route.path, value);
                let mut builder = http::Request::builder().method(route.method.as_str()).uri(&path);
                if let Some(a) = &authorization {
                    builder = builder.header("authorization", a);
                }
                let reply = dispatch(&api, builder.body(Vec::new()).expect("request")).await;
                assert_answered(&reply, &format!("{} {path}", route.method));
                assert!(
                    (400..500).contains(&reply.status),
                    "{} {path}: {}",
                    route.method,
                    reply.status
                );
            }
        }
    }
}

/// Sizes are checked before the event is built (a body over what Lambda is invoked with never reaches a
/// function), and a header that is not text is refused rather than dropped.
#[tokio::test]
async fn the_local_server_checks_sizes_and_headers_before_the_function() {
    let api = local_api().await;
    let admin = api.mint(Role::Admin, None, None, None).0;
    let import = |body: Vec<u8>, content_type: &[u8]| {
        http::Request::builder()
            .method("POST")
            .uri("/admin/licences")
            .header("authorization", format!("Bearer {admin}"))
            .header(
                "content-type",
                http::HeaderValue::from_bytes(content_type).expect("value"),
            )
            .body(body)
            .expect("request")
    };
    let big = vec![b'{'; 9_900_000];
    let reply = dispatch(&api, import(big, b"application/x-ndjson")).await;
    assert_answered(&reply, "9.9 MB import");
    assert_eq!(reply.status, 413);
    let problem: Value = serde_json::from_slice(&reply.body).expect("problem");
    assert_eq!(
        problem["limitBytes"],
        edl_local_api::server::MAX_FUNCTION_PAYLOAD,
        "{problem}"
    );

    let holder = api.mint(Role::Holder, Some(ZHANG_WEI.into()), None, None).0;
    let reply = dispatch(
        &api,
        http::Request::builder()
            .method("POST")
            .uri("/applications")
            .header("authorization", format!("Bearer {holder}"))
            .header(
                "content-type",
                http::HeaderValue::from_bytes(b"application/json\xff").expect("value"),
            )
            .body(br#"{"photoSource":"on_file"}"#.to_vec())
            .expect("request"),
    )
    .await;
    assert_answered(&reply, "Content-Type with a byte that is not text");
    assert_eq!(reply.status, 415);
}

/// Over real HTTP on loopback: a malformed chunked body is a 400 problem (not 413), a path with `%张` a 4xx
/// problem, a `Content-Type` that is not text a 415 problem; the server answers afterwards.
#[tokio::test]
async fn the_local_server_on_loopback_refuses_bad_framing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let api = Arc::new(local_api().await);
    let holder = api.mint(Role::Holder, Some(ZHANG_WEI.into()), None, None).0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(edl_local_api::server::serve(api.clone(), listener));
    let exchange = |request: Vec<u8>| async move {
        let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
        stream.write_all(&request).await.expect("write");
        let _ = stream.shutdown().await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    };
    let head = |line: &str, extra: &str| {
        format!("{line}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {holder}\r\nConnection: close\r\n{extra}")
    };
    let chunked = exchange(
        format!(
            "{}\r\nzz\r\n{{}}\r\n0\r\n\r\n",
            head(
                "POST /applications HTTP/1.1",
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            )
        )
        .into_bytes(),
    )
    .await;
    assert!(chunked.starts_with("HTTP/1.1 400"), "{chunked}");
    assert!(
        chunked.contains("application/problem+json") && chunked.contains("malformed-body"),
        "{chunked}"
    );

    let path = exchange(format!("{}\r\n", head("GET /applications/%张 HTTP/1.1", "")).into_bytes()).await;
    assert!(path.starts_with("HTTP/1.1 4"), "{path}");
    assert!(path.contains("application/problem+json"), "{path}");

    let mut mistyped = head(
        "POST /applications HTTP/1.1",
        "Content-Length: 25\r\nContent-Type: application/json",
    )
    .into_bytes();
    mistyped.extend_from_slice(b"\xff\r\n\r\n{\"photoSource\":\"on_file\"}");
    let mistyped = exchange(mistyped).await;
    assert!(mistyped.starts_with("HTTP/1.1 415"), "{mistyped}");
    assert!(mistyped.contains("application/problem+json"), "{mistyped}");

    let alive = exchange(format!("{}\r\n", head("GET /truck/cities HTTP/1.1", "")).into_bytes()).await;
    assert!(alive.starts_with("HTTP/1.1 200"), "{alive}");
    server.abort();
}

// ---------------------------------------------------------------- the fuzz-style test over every route

/// The sample bodies of `events/`, by route key, to mutate.
fn sample_bodies() -> BTreeMap<String, String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
    let mut bodies = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("events/") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        let event: Value = serde_json::from_str(&text).expect("event JSON");
        if let (Some(key), Some(body)) = (event["routeKey"].as_str(), event["body"].as_str()) {
            bodies.insert(key.to_string(), body.to_string());
        }
    }
    bodies
}

fn random_bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let n = rng.gen_range(0..=max);
    (0..n).map(|_| rng.gen()).collect()
}

/// Every byte escaped, or printable ASCII kept and the rest escaped: both reach the router as a valid URI.
fn escaped(rng: &mut StdRng, bytes: &[u8]) -> String {
    let keep = rng.gen_bool(0.5);
    bytes
        .iter()
        .map(|&b| {
            if keep && (b.is_ascii_alphanumeric() || b"-._~%".contains(&b)) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn path_value(rng: &mut StdRng, name: &str) -> String {
    const TRICKY: &[&str] = &[
        "%",
        "%张",
        "%9张",
        "%E5%BC",
        "%FF%FE",
        "..",
        "%2e%2e%2f",
        "%2F",
        "张",
        "%00",
        "%25",
        "a%20b",
        "%C0%AF",
    ];
    match rng.gen_range(0..5) {
        0 => match name {
            "id" if rng.gen_bool(0.5) => "0193a5b0-0000-7000-8000-000000000001".into(),
            "id" => "TP11000026112583920417".into(),
            "city" => "110000".into(),
            "wave" => "2a".into(),
            "batch" => "1".into(),
            "number" => ZHANG_WEI.into(),
            "page" => "front.png".into(),
            _ => "x".into(),
        },
        1 => TRICKY[rng.gen_range(0..TRICKY.len())].to_string(),
        2 => "9".repeat(rng.gen_range(1..20_000)),
        _ => {
            let bytes = random_bytes(rng, 40);
            let value = escaped(rng, &bytes);
            if value.is_empty() {
                "%00".into()
            } else {
                value
            }
        }
    }
}

/// A header value http accepts (no control characters but tab), from arbitrary bytes.
fn header_value(rng: &mut StdRng, choices: &[&[u8]]) -> http::HeaderValue {
    let bytes = if rng.gen_bool(0.6) {
        choices[rng.gen_range(0..choices.len())].to_vec()
    } else {
        random_bytes(rng, 60)
            .into_iter()
            .filter(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
            .collect()
    };
    http::HeaderValue::from_bytes(&bytes).unwrap_or_else(|_| http::HeaderValue::from_static("x"))
}

fn body(rng: &mut StdRng, sample: Option<&String>) -> Vec<u8> {
    match rng.gen_range(0..9) {
        0 => Vec::new(),
        1 => b"{}".to_vec(),
        2 => b"null".to_vec(),
        3 => random_bytes(rng, 2000),
        4 => format!("{}{}", "[".repeat(rng.gen_range(100..400)), "]".repeat(10)).into_bytes(),
        5 => json!({ "goLiveAt": "x".repeat(rng.gen_range(0..200_000)) })
            .to_string()
            .into_bytes(),
        _ => {
            // A sample body of the route with a few bytes changed, cut, or whole.
            let mut bytes = sample.cloned().unwrap_or_else(|| "{\"a\":1}".into()).into_bytes();
            if bytes.is_empty() {
                return bytes;
            }
            match rng.gen_range(0..3) {
                0 => {
                    for _ in 0..rng.gen_range(1..4) {
                        let at = rng.gen_range(0..bytes.len());
                        bytes[at] = rng.gen();
                    }
                }
                1 => bytes.truncate(rng.gen_range(0..bytes.len())),
                _ => {}
            }
            bytes
        }
    }
}

/// Arbitrary bytes in every path parameter, in the headers (Authorization, Content-Type, Content-Length and
/// others) and in the body of every route of the template, with a valid token of each role and none: no panic,
/// no 5xx, every refusal a problem document. Seeded, so a failure is reproduced by running it again.
#[tokio::test]
async fn arbitrary_input_on_every_route_is_answered_without_a_panic_or_a_5xx() {
    let api = local_api().await;
    let routes = routes_from_template(TEMPLATE).expect("routes");
    let samples = sample_bodies();
    let mut tokens: Vec<Option<String>> = Role::ALL
        .iter()
        .map(|role| Some(format!("Bearer {}", api.mint(*role, None, None, None).0)))
        .collect();
    tokens.push(None);
    let mut rng = StdRng::seed_from_u64(0x15_07);
    const REQUESTS: usize = 3000;
    let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    for n in 0..REQUESTS {
        // Every route in turn, so each gets REQUESTS / routes.len() requests.
        let route = &routes[n % routes.len()];
        let path: String = route
            .path
            .split('/')
            .map(
                |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => path_value(&mut rng, name),
                    None => segment.to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("/");
        let method = if rng.gen_bool(0.9) {
            route.method.as_str()
        } else {
            methods[rng.gen_range(0..methods.len())]
        };
        let mut builder = http::Request::builder().method(method).uri(&path);
        let token = tokens[rng.gen_range(0..tokens.len())].clone();
        match (token, rng.gen_range(0..10)) {
            (_, 0) => {
                builder = builder.header(
                    "authorization",
                    header_value(&mut rng, &[b"Bearer ", b"bearer x.y.z", b"Basic \xff"]),
                )
            }
            (Some(token), _) => builder = builder.header("authorization", token),
            (None, _) => {}
        }
        if rng.gen_bool(0.8) {
            let types: &[&[u8]] = &[
                b"application/json",
                b"application/x-ndjson",
                b"application/json; charset=\xff",
                b"text/plain",
                b"",
                b"application/problem+json",
            ];
            builder = builder.header("content-type", header_value(&mut rng, types));
        }
        if rng.gen_bool(0.3) {
            builder = builder.header(
                "content-length",
                header_value(&mut rng, &[b"0", b"-1", b"99999999999999999999"]),
            );
        }
        if rng.gen_bool(0.2) {
            builder = builder.header("x-amzn-trace-id", header_value(&mut rng, &[b"\xe5\xbc\xa0"]));
        }
        let body = body(&mut rng, samples.get(&route.key()));
        let request = builder
            .body(body)
            .unwrap_or_else(|e| panic!("request {method} {path}: {e}"));
        let what = format!("#{n} {method} {path}");
        let reply = dispatch(&api, request).await;
        assert_answered(&reply, &what);
    }
}
