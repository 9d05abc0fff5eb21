//! The HTTP routes, read from `template.yaml` so that the local server cannot drift from the deployment.

use serde_norway::Value;

/// The template the product deploys, compiled in.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
    /// The function's binary name (`Metadata.BuildProperties.Binary`).
    pub function: String,
    /// `Auth: Authorizer: NONE`: served without a token.
    pub public: bool,
}

impl Route {
    /// API Gateway's route key, e.g. `GET /applications/{id}`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The path parameters when `path` matches this route's pattern.
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(String, String)>> {
        if !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let pattern: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let actual: Vec<&str> = path.trim_matches('/').split('/').collect();
        if pattern.len() != actual.len() {
            return None;
        }
        let mut parameters = Vec::new();
        for (p, a) in pattern.iter().zip(&actual) {
            if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if a.is_empty() {
                    return None;
                }
                parameters.push((name.to_string(), percent_decode(a)));
            } else if p != a {
                return None;
            }
        }
        Some(parameters)
    }
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&segment[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template.yaml is not YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("template.yaml: {0}")]
    Shape(String),
}

/// Every `HttpApi` event of every function in the template.
pub fn routes_from_template(text: &str) -> Result<Vec<Route>, TemplateError> {
    let template: Value = serde_norway::from_str(text)?;
    let resources = template
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| TemplateError::Shape("no Resources".into()))?;
    let mut routes = Vec::new();
    for (name, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap_or("?");
        let Some(events) = resource
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping)
        else {
            continue;
        };
        let binary = resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Value::as_str);
        for (event_name, event) in events {
            if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                continue;
            }
            let properties = event.get("Properties");
            let field = |key: &str| {
                properties
                    .and_then(|p| p.get(key))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        TemplateError::Shape(format!(
                            "{name}.Events.{} has no plain {key}",
                            event_name.as_str().unwrap_or("?")
                        ))
                    })
            };
            let binary = binary.ok_or_else(|| {
                TemplateError::Shape(format!("{name} has HTTP routes but no Metadata.BuildProperties.Binary"))
            })?;
            let public = properties
                .and_then(|p| p.get("Auth"))
                .and_then(|a| a.get("Authorizer"))
                .and_then(Value::as_str)
                == Some("NONE");
            routes.push(Route {
                method: field("Method")?.to_ascii_uppercase(),
                path: field("Path")?,
                function: binary.to_string(),
                public,
            });
        }
    }
    // Literal segments before parameters, so `/a/b` wins over `/a/{x}`.
    routes.sort_by_key(|r| (r.path.matches('{').count(), r.path.clone(), r.method.clone()));
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_parameters_and_decodes_them() {
        let route = Route {
            method: "GET".into(),
            path: "/applications/{id}".into(),
            function: "apply".into(),
            public: false,
        };
        assert_eq!(
            route.matches("GET", "/applications/a%20b"),
            Some(vec![("id".into(), "a b".into())])
        );
        assert_eq!(route.matches("POST", "/applications/x"), None);
        assert_eq!(route.matches("GET", "/applications"), None);
        assert_eq!(route.matches("GET", "/applications/x/liveness"), None);
        assert_eq!(percent_decode("%E5%BC%A0"), "张");
        assert_eq!(percent_decode("50%"), "50%");
    }
}
