//! The consoles in the browser: the built files of `consoles/dist` served by the local server with their configuration
//! and security headers, and published to the deployed stack's bucket.

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};

/// Where the consoles are served on the local server's origin.
pub const PREFIX: &str = "/consoles/";

/// The built consoles, compiled in so that `edl-local` serves them without Node; `scripts/test.sh`
/// checks that `consoles/dist` is what its sources build to and that this list names every file.
pub const FILES: [(&str, &str, &[u8]); 3] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../../consoles/dist/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../consoles/dist/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../consoles/dist/app.css"),
    ),
];

/// The consoles' `config.json`: how they sign in and where the API is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsoleConfig {
    pub sign_in: SignIn,
    /// The HTTP API's base URL; empty for the consoles' own origin.
    #[serde(default)]
    pub api: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcClient>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignIn {
    /// The local server's role picker (`POST /_dev/tokens`).
    Development,
    /// The authority's OpenID Connect login, authorization code with PKCE.
    Oidc,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcClient {
    pub issuer: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("cannot read the console configuration {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the console configuration {path} is not valid: {source}")]
    Invalid { path: String, source: serde_json::Error },
    #[error("the console configuration {path}: {message}")]
    Incomplete { path: String, message: String },
    #[error("cannot upload {key} to the bucket {bucket}: {message}")]
    Upload {
        bucket: String,
        key: String,
        message: String,
    },
}

/// The environment variable naming a `config.json` to serve instead of the development one.
pub const CONFIG_VARIABLE: &str = "EDL_CONSOLE_CONFIG";

pub struct Consoles {
    config: ConsoleConfig,
    config_json: Bytes,
    policy: String,
}

impl Default for Consoles {
    fn default() -> Self {
        Consoles::new(ConsoleConfig {
            sign_in: SignIn::Development,
            api: String::new(),
            oidc: None,
        })
    }
}

impl Consoles {
    pub fn new(config: ConsoleConfig) -> Consoles {
        // The API's links (photos) are images too; the login is only called.
        let api: Vec<String> = origin(&config.api).into_iter().collect();
        let mut connect = api.clone();
        connect.extend(config.oidc.as_ref().and_then(|o| origin(&o.issuer)));
        let config_json = Bytes::from(serde_json::to_vec(&config).unwrap_or_default());
        Consoles {
            policy: content_security_policy(&connect, &api),
            config,
            config_json,
        }
    }

    /// The development configuration, or the one `EDL_CONSOLE_CONFIG` names.
    pub fn from_env() -> Result<Consoles, ConsoleError> {
        let Some(path) = std::env::var_os(CONFIG_VARIABLE) else {
            return Ok(Consoles::default());
        };
        let path = path.to_string_lossy().into_owned();
        let text = std::fs::read(&path).map_err(|source| ConsoleError::Read {
            path: path.clone(),
            source,
        })?;
        let config: ConsoleConfig = serde_json::from_slice(&text).map_err(|source| ConsoleError::Invalid {
            path: path.clone(),
            source,
        })?;
        if config.sign_in == SignIn::Oidc && config.oidc.is_none() {
            return Err(ConsoleError::Incomplete {
                path,
                message: "signIn \"oidc\" needs oidc.issuer and oidc.clientId".into(),
            });
        }
        Ok(Consoles::new(config))
    }

    pub fn config(&self) -> &ConsoleConfig {
        &self.config
    }

    /// The answer for a request the consoles own (`/`, `/consoles`, `/consoles/...`), or None.
    pub fn respond(&self, method: &str, path: &str, headers: &HeaderMap) -> Option<hyper::Response<Full<Bytes>>> {
        let file = match path {
            "/" | "/consoles" => return Some(self.redirect(PREFIX)),
            _ => path.strip_prefix(PREFIX)?,
        };
        if method != "GET" && method != "HEAD" {
            return Some(self.plain(405, "Only GET and HEAD are served here."));
        }
        let name = if file.is_empty() { "index.html" } else { file };
        let (body, content_type, cache) = match FILES.iter().find(|(file, _, _)| *file == name) {
            Some((_, content_type, contents)) => (Bytes::from_static(contents), *content_type, "no-cache"),
            // Never cached, so that a changed configuration takes effect at once.
            None if name == "config.json" => (self.config_json.clone(), "application/json", "no-store"),
            None => return Some(self.plain(404, "There is no such file in the consoles.")),
        };
        let tag = etag(&body);
        let fresh = headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
        let builder = self
            .secured(hyper::Response::builder())
            .header("content-type", content_type)
            .header("cache-control", cache)
            .header("etag", &tag);
        let response = if fresh {
            builder.status(304).body(Full::new(Bytes::new()))
        } else if method == "HEAD" {
            builder
                .status(200)
                .header("content-length", body.len())
                .body(Full::new(Bytes::new()))
        } else {
            builder.status(200).body(Full::new(body))
        };
        Some(response.unwrap_or_default())
    }

    /// The headers every console answer carries.
    fn secured(&self, builder: http::response::Builder) -> http::response::Builder {
        builder
            .header("content-security-policy", &self.policy)
            .header("x-content-type-options", "nosniff")
            .header("referrer-policy", "no-referrer")
            .header("permissions-policy", PERMISSIONS_POLICY)
            .header("cross-origin-opener-policy", "same-origin")
            .header("x-frame-options", "DENY")
    }

    fn redirect(&self, to: &str) -> hyper::Response<Full<Bytes>> {
        self.secured(hyper::Response::builder())
            .status(302)
            .header("location", to)
            .body(Full::new(Bytes::new()))
            .unwrap_or_default()
    }

    fn plain(&self, status: u16, text: &'static str) -> hyper::Response<Full<Bytes>> {
        self.secured(hyper::Response::builder())
            .status(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from_static(text.as_bytes())))
            .unwrap_or_default()
    }
}

/// `index.html` for a deployment: the header policy CloudFront sends must name every API of the region
/// (template.yaml says why), so the page narrows `connect-src` to this stack's API and login itself.
pub fn deployed_index(config: &ConsoleConfig, login_origin: Option<&str>) -> Vec<u8> {
    let mut connect = vec!["'self'".to_string()];
    connect.extend(origin(&config.api));
    connect.extend(config.oidc.as_ref().and_then(|o| origin(&o.issuer)));
    connect.extend(login_origin.map(str::to_string));
    let meta = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"connect-src {}\">",
        connect.join(" ")
    );
    let page = String::from_utf8_lossy(FILES[0].2);
    page.replacen(
        "<meta charset=\"utf-8\">",
        &format!("<meta charset=\"utf-8\">\n    {meta}"),
        1,
    )
    .into_bytes()
}

/// Uploads the consoles and their `config.json` to a deployment's bucket; the keys written.
pub async fn publish(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    config: &ConsoleConfig,
    login_origin: Option<&str>,
) -> Result<Vec<String>, ConsoleError> {
    let mut objects: Vec<(&str, &str, &str, Vec<u8>)> = vec![(
        "index.html",
        FILES[0].1,
        "no-cache",
        deployed_index(config, login_origin),
    )];
    for (name, content_type, contents) in FILES.iter().skip(1) {
        objects.push((name, content_type, "no-cache", contents.to_vec()));
    }
    let config_json = serde_json::to_vec(config).map_err(|e| ConsoleError::Upload {
        bucket: bucket.into(),
        key: "config.json".into(),
        message: e.to_string(),
    })?;
    objects.push(("config.json", "application/json", "no-store", config_json));
    let mut written = Vec::new();
    for (key, content_type, cache, body) in objects {
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .cache_control(cache)
            .body(body.into())
            .send()
            .await
            .map_err(|e| ConsoleError::Upload {
                bucket: bucket.into(),
                key: key.into(),
                message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
            })?;
        written.push(key.to_string());
    }
    Ok(written)
}

/// `edl-local consoles publish`: where the consoles go and what they call.
#[derive(Debug, clap::Args)]
pub struct Publish {
    /// The stack's ConsoleBucketName.
    #[arg(long)]
    pub bucket: String,
    /// The stack's ApiUrl.
    #[arg(long, value_name = "API_URL")]
    pub api: String,
    /// The OpenID Connect issuer (the parameter JwtIssuer).
    #[arg(long, value_name = "JWT_ISSUER")]
    pub issuer: String,
    /// The consoles' client id (the parameter ConsoleClientId).
    #[arg(long)]
    pub client_id: String,
    /// The login page's origin (the parameter ConsoleLoginOrigin), when it differs from the issuer's.
    #[arg(long, value_name = "ORIGIN")]
    pub login_origin: Option<String>,
}

/// Publishes the consoles as `publish` says; what was written.
pub async fn publish_command(publish_args: Publish) -> Result<String, String> {
    let Publish {
        bucket,
        api,
        issuer,
        client_id,
        login_origin,
    } = publish_args;
    let config = ConsoleConfig {
        sign_in: SignIn::Oidc,
        api,
        oidc: Some(OidcClient {
            issuer,
            client_id,
            scope: Some("openid".into()),
            redirect_uri: None,
        }),
    };
    let sdk = shared::adapters::aws::sdk_config().await.map_err(|e| e.to_string())?;
    let s3 = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    let written = publish(
        &aws_sdk_s3::Client::from_conf(s3),
        &bucket,
        &config,
        login_origin.as_deref(),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(format!("published {} to s3://{bucket}/", written.join(", ")))
}

/// The camera for the verifier's scanner, and nothing else a page could ask for.
pub const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()";

/// The consoles' content security policy: their own scripts and styles only, no inline code, no
/// framing; calls to `connect` (the API, the login) and images from `images` (photo links).
pub fn content_security_policy(connect: &[String], images: &[String]) -> String {
    let with = |base: &str, extra: &[String]| {
        let mut sources = vec![base.to_string()];
        sources.extend(extra.iter().cloned());
        sources.join(" ")
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src {}; connect-src {}; \
         media-src 'self' blob:; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        with("'self' data: blob:", images),
        with("'self'", connect),
    )
}

/// `scheme://host[:port]` of an absolute URL.
fn origin(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}

fn etag(body: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}-{}\"", hasher.finish(), body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(consoles: &Consoles, path: &str, headers: &HeaderMap) -> hyper::Response<Full<Bytes>> {
        consoles.respond("GET", path, headers).expect("a console path")
    }

    #[test]
    fn serves_the_built_files_with_their_types_policy_and_validators() {
        let consoles = Consoles::default();
        let none = HeaderMap::new();
        let page = get(&consoles, "/consoles/", &none);
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        let policy = page.headers()["content-security-policy"].to_str().expect("ascii");
        assert!(policy.contains("script-src 'self';") && policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("unsafe-inline"));
        assert_eq!(page.headers()["x-content-type-options"], "nosniff");
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        assert_eq!(
            get(&consoles, "/consoles/app.js", &none).headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            get(&consoles, "/consoles/app.css", &none).headers()["content-type"],
            "text/css; charset=utf-8"
        );

        let tag = get(&consoles, "/consoles/app.js", &none).headers()["etag"].clone();
        let mut again = HeaderMap::new();
        again.insert("if-none-match", tag);
        assert_eq!(get(&consoles, "/consoles/app.js", &again).status(), 304);

        assert_eq!(get(&consoles, "/consoles/secrets.txt", &none).status(), 404);
        assert_eq!(get(&consoles, "/consoles/../Cargo.toml", &none).status(), 404);
        assert_eq!(get(&consoles, "/", &none).headers()["location"], PREFIX);
        assert_eq!(
            consoles.respond("POST", "/consoles/", &none).map(|r| r.status()),
            Some(405.try_into().expect("status"))
        );
        assert!(consoles.respond("GET", "/reviews", &none).is_none());
        assert!(consoles.respond("GET", "/consolesx", &none).is_none());
    }

    #[test]
    fn the_configuration_is_development_unless_given_and_opens_the_policy_to_the_login() {
        let none = HeaderMap::new();
        let development = Consoles::default();
        let config = get(&development, "/consoles/config.json", &none);
        assert_eq!(config.headers()["cache-control"], "no-store");
        assert_eq!(development.config().sign_in, SignIn::Development);

        let oidc = Consoles::new(ConsoleConfig {
            sign_in: SignIn::Oidc,
            api: "https://api.example.gov.cn/".into(),
            oidc: Some(OidcClient {
                issuer: "https://login.example.gov.cn/realms/edl".into(),
                client_id: "edl-consoles".into(),
                scope: None,
                redirect_uri: None,
            }),
        });
        let policy = get(&oidc, "/consoles/", &none).headers()["content-security-policy"]
            .to_str()
            .expect("ascii")
            .to_string();
        assert!(policy.contains("connect-src 'self' https://api.example.gov.cn https://login.example.gov.cn;"));
        assert!(serde_json::from_str::<ConsoleConfig>(r#"{"signIn":"oidc","api":"","extra":1}"#).is_err());
    }

    #[test]
    fn a_deployed_page_narrows_its_calls_to_the_stack_api_and_login() {
        let config = ConsoleConfig {
            sign_in: SignIn::Oidc,
            api: "https://abc123.execute-api.cn-north-1.amazonaws.com.cn/".into(),
            oidc: Some(OidcClient {
                issuer: "https://login.example.gov.cn/realms/edl".into(),
                client_id: "edl-consoles".into(),
                scope: None,
                redirect_uri: None,
            }),
        };
        let page = String::from_utf8(deployed_index(&config, Some("https://edl.auth.example.com"))).expect("utf-8");
        assert!(page.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"connect-src 'self' \
             https://abc123.execute-api.cn-north-1.amazonaws.com.cn https://login.example.gov.cn https://edl.auth.example.com\">"
        ));
        assert!(page.find("<meta charset") < page.find("Content-Security-Policy"));
    }

    #[test]
    fn every_built_file_is_served() {
        let dist = concat!(env!("CARGO_MANIFEST_DIR"), "/../../consoles/dist");
        let mut built: Vec<String> = std::fs::read_dir(dist)
            .expect("consoles/dist")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        built.sort();
        let mut served: Vec<String> = FILES.iter().map(|(name, _, _)| name.to_string()).collect();
        served.sort();
        assert_eq!(built, served, "consoles/dist and consoles::FILES differ");
    }
}
