//! The HTTP routes, read from `template.yaml` so that the local server cannot drift from the deployment.

use percent_encoding::percent_decode_str;
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

    /// The path parameters when `path` matches this route's pattern; a parameter that does not decode (a `%`
    /// escape of bytes that are not UTF-8) is the error naming it, which the server answers with a 400 problem.
    pub fn matches(&self, method: &str, path: &str) -> Option<Result<Vec<(String, String)>, BadParameter>> {
        if !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let pattern: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let actual: Vec<&str> = path.trim_matches('/').split('/').collect();
        if pattern.len() != actual.len() {
            return None;
        }
        let mut parameters = Vec::new();
        let mut bad = None;
        for (p, a) in pattern.iter().zip(&actual) {
            if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if a.is_empty() {
                    return None;
                }
                match percent_decode_str(a).decode_utf8() {
                    Ok(value) => parameters.push((name.to_string(), value.into_owned())),
                    Err(_) => {
                        bad.get_or_insert_with(|| BadParameter { name: name.to_string() });
                    }
                }
            } else if p != a {
                return None;
            }
        }
        Some(match bad {
            Some(bad) => Err(bad),
            None => Ok(parameters),
        })
    }
}

/// A path parameter whose `%` escapes do not decode to UTF-8 text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the path parameter {name} is not percent-encoded UTF-8 text")]
pub struct BadParameter {
    pub name: String,
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
        let params = |path: &str| route.matches("GET", path);
        assert_eq!(
            params("/applications/a%20b"),
            Some(Ok(vec![("id".into(), "a b".into())]))
        );
        assert_eq!(route.matches("POST", "/applications/x"), None);
        assert_eq!(params("/applications"), None);
        assert_eq!(params("/applications/x/liveness"), None);
        assert_eq!(
            params("/applications/%E5%BC%A0"),
            Some(Ok(vec![("id".into(), "张".into())]))
        );
        assert_eq!(params("/applications/50%"), Some(Ok(vec![("id".into(), "50%".into())])));
        // A `%` before a multibyte character once sliced inside it and panicked.
        assert_eq!(params("/applications/%张"), Some(Ok(vec![("id".into(), "%张".into())])));
        assert_eq!(
            params("/applications/%9张"),
            Some(Ok(vec![("id".into(), "%9张".into())]))
        );
        let not_text = Some(Err(BadParameter { name: "id".into() }));
        assert_eq!(params("/applications/%FF"), not_text);
        assert_eq!(params("/applications/%E5%BC"), not_text);
    }
}
