//! The consoles published to a deployment's bucket: every file with its type and caching, and the configuration.

use edl_local_api::consoles::{publish, ConsoleConfig, OidcClient, SignIn, FILES};

#[tokio::test]
async fn publish_uploads_the_built_consoles_and_their_configuration() {
    let config = edl_tests::aws_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = format!("edl-consoles-{}", uuid::Uuid::new_v4().simple());
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket on {}: {e}", edl_tests::aws_endpoint()));
    let console = ConsoleConfig {
        sign_in: SignIn::Oidc,
        api: "https://abc123.execute-api.us-east-1.amazonaws.com/".into(),
        oidc: Some(OidcClient {
            issuer: "https://login.example.gov.cn/realms/edl".into(),
            client_id: "edl-consoles".into(),
            scope: Some("openid".into()),
            redirect_uri: None,
        }),
    };
    let written = publish(&s3, &bucket, &console, None).await.expect("published");
    assert_eq!(written, ["index.html", "app.js", "app.css", "config.json"]);

    for (name, content_type, contents) in FILES {
        let object = s3.get_object().bucket(&bucket).key(name).send().await.expect(name);
        assert_eq!(object.content_type(), Some(content_type), "{name}");
        assert_eq!(object.cache_control(), Some("no-cache"), "{name}");
        let body = object.body.collect().await.expect("body").into_bytes();
        if name == "index.html" {
            let page = String::from_utf8(body.to_vec()).expect("utf-8");
            assert!(page.contains(
                "content=\"connect-src 'self' https://abc123.execute-api.us-east-1.amazonaws.com https://login.example.gov.cn\""
            ));
        } else {
            assert_eq!(&body[..], contents, "{name}");
        }
    }
    let stored = s3
        .get_object()
        .bucket(&bucket)
        .key("config.json")
        .send()
        .await
        .expect("config");
    assert_eq!(stored.cache_control(), Some("no-store"));
    let body = stored.body.collect().await.expect("body").into_bytes();
    let read: ConsoleConfig = serde_json::from_slice(&body).expect("a console configuration");
    assert_eq!(read, console);
}
