//! The local server's guards (issue 15 item 1): it answers only requests addressed to loopback (a DNS
//! rebinding page names its own site in `Host`), and against real AWS it serves no development route and
//! accepts no development token. Through a real socket on 127.0.0.1, as a browser would reach it.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // a failed expectation is a failed test

use edl_local_api::server::{is_loopback_host, serve, LocalApi};
use edl_local_api::{development_allowed, local_services, Storage};
use shared::kernel::caller::Role;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn api() -> LocalApi {
    let keys = shared::dev::DevKeys::random();
    let local = local_services(&Storage::Embedded, &keys, 5, 2026, "http://127.0.0.1:9")
        .await
        .expect("local services");
    LocalApi::new(
        local.services,
        local.ports,
        edl_local_api::routes::routes_from_template(edl_local_api::routes::TEMPLATE).expect("routes"),
        keys,
        local.embedded_photos,
        local.notices,
        local.approvals,
    )
}

/// Starts `api` on a free loopback port; the server task ends with the test's runtime.
async fn start(api: LocalApi) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(serve(Arc::new(api), listener));
    address
}

/// One HTTP/1.1 request with exactly these header lines; the status and the body.
async fn send(address: std::net::SocketAddr, head: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    let request = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn loopback_hosts_only() {
    for host in [
        "127.0.0.1",
        "127.0.0.1:3000",
        "localhost",
        "LocalHost:8080",
        "[::1]",
        "[::1]:3000",
    ] {
        assert!(is_loopback_host(host), "{host}");
    }
    for host in [
        "evil.example",
        "evil.example:3000",
        "127.0.0.1.evil.example",
        "localhost.evil.example:3000",
        "127.0.0.2",
        "0.0.0.0:3000",
        "",
        "127.0.0.1:3000@evil.example",
    ] {
        assert!(!is_loopback_host(host), "{host}");
    }
}

#[test]
fn development_only_on_this_machine() {
    assert!(development_allowed(false, None), "embedded storage");
    assert!(development_allowed(false, Some("http://127.0.0.1:4566")));
    assert!(development_allowed(true, Some("http://localhost:4566")));
    assert!(development_allowed(true, Some("https://[::1]:4566")));
    assert!(!development_allowed(true, None), "--aws against AWS itself");
    assert!(!development_allowed(
        true,
        Some("https://dynamodb.cn-north-1.amazonaws.com.cn")
    ));
    assert!(!development_allowed(false, Some("http://10.0.0.5:4566")));
    assert!(!development_allowed(false, Some("not a url")));
}

#[tokio::test]
async fn requests_for_another_host_are_refused() {
    let address = start(api().await).await;
    let token = r#"{"role":"admin"}"#;
    let (status, body) = send(
        address,
        &format!("POST /_dev/tokens HTTP/1.1\r\nHost: {address}"),
        token,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = send(address, "POST /_dev/tokens HTTP/1.1\r\nHost: localhost:3000", token).await;
    assert_eq!(status, 201, "{body}");
    // A rebinding page's request, and one without Host: 421, nothing minted.
    let (status, body) = send(address, "POST /_dev/tokens HTTP/1.1\r\nHost: evil.example:3000", token).await;
    assert_eq!(status, 421, "{body}");
    assert!(
        body.contains("misdirected-request") && !body.contains("token"),
        "{body}"
    );
    let (status, _) = send(address, "GET /truck/cities HTTP/1.1\r\nHost: attacker.example", "").await;
    assert_eq!(status, 421);
    let (status, _) = send(address, "GET /truck/cities HTTP/1.0", "").await;
    assert_eq!(status, 421, "no Host");
}

#[tokio::test]
async fn against_real_aws_no_development_token_or_route() {
    let api = api().await;
    let (token, _) = api.mint(Role::Admin, None, None, None);
    let address = start(api.against_real_aws()).await;
    let host = format!("Host: {address}");
    let (status, body) = send(
        address,
        &format!("POST /_dev/tokens HTTP/1.1\r\n{host}"),
        r#"{"role":"admin"}"#,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("development-disabled"), "{body}");
    let (status, body) = send(
        address,
        &format!("GET /admin/rollout HTTP/1.1\r\n{host}\r\nAuthorization: Bearer {token}"),
        "",
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("accepts no development token"), "{body}");
    // Public routes still answer.
    let (status, _) = send(address, &format!("GET /truck/cities HTTP/1.1\r\n{host}"), "").await;
    assert_eq!(status, 200);
}
