//! The Lambda functions the benchmark starts: their binary, package and sample event, and the environment
//! `template.yaml` gives each of them (so a function initialises here as it would in the deployed stack).

use serde_norway::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One deployed function: the cargo binary SAM builds for it (`Metadata.BuildProperties.Binary`), the package
/// that holds it, and the sample event under `events/` fed to its first invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    pub binary: &'static str,
    pub package: &'static str,
    pub event: &'static str,
}

/// Every deployed function, with an event that reaches its handler's usual path (a read where there is one).
pub const FUNCTIONS: &[Function] = &[
    Function {
        binary: "apply",
        package: "edl-apply",
        event: "apply-get-application.json",
    },
    Function {
        binary: "admin",
        package: "edl-admin",
        event: "admin-get-rollout.json",
    },
    Function {
        binary: "photo-upload",
        package: "edl-photo-upload",
        event: "photo-upload-request.json",
    },
    Function {
        binary: "photo-check",
        package: "edl-photo-check",
        event: "photo-check-object-created.json",
    },
    Function {
        binary: "review",
        package: "edl-review",
        event: "review-list-queue.json",
    },
    Function {
        binary: "issue",
        package: "edl-issue",
        event: "issue-application-approved.json",
    },
    Function {
        binary: "licence",
        package: "edl-licence",
        event: "licence-show.json",
    },
    Function {
        binary: "verify",
        package: "edl-verify",
        event: "verify-officer-code.json",
    },
    Function {
        binary: "pass",
        package: "edl-pass",
        event: "pass-list-cities.json",
    },
    Function {
        binary: "expire",
        package: "edl-expire",
        event: "expire-schedule.json",
    },
    Function {
        binary: "refresh",
        package: "edl-refresh",
        event: "refresh-schedule.json",
    },
    Function {
        binary: "pages",
        package: "edl-pages",
        event: "pages-front-png.json",
    },
];

/// The baseline's binary (in this package): a `lambda_runtime` echo.
pub const BARE: &str = "coldstart-bare";

/// The region and account the template's `!Sub` strings are given here.
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template.yaml cannot be read: {0}")]
    Read(#[from] std::io::Error),
    #[error("template.yaml is not YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("template.yaml has no function whose BuildProperties.Binary is {0}")]
    NoFunction(String),
}

/// The directory `sam build` builds the function from (its `CodeUri`, relative to the template).
pub fn code_uri(template: &Path, binary: &str) -> Result<String, TemplateError> {
    let template: Value = serde_norway::from_str(&std::fs::read_to_string(template)?)?;
    let function = function(&template, binary)?;
    Ok(function["Properties"]["CodeUri"].as_str().unwrap_or(".").to_string())
}

fn function<'a>(template: &'a Value, binary: &str) -> Result<&'a Value, TemplateError> {
    template["Resources"]
        .as_mapping()
        .into_iter()
        .flatten()
        .map(|(_, resource)| resource)
        .find(|resource| resource["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .ok_or_else(|| TemplateError::NoFunction(binary.to_string()))
}

/// The environment the template gives the function built from `binary`: `Globals.Function.Environment` and the
/// function's own, with `!Ref` to a parameter replaced by its default, `!Sub` filled with this benchmark's
/// region, account and parameter defaults, and a reference to a resource (a table, a bus) by its logical id,
/// which names nothing here: every AWS call goes to the emulator.
pub fn environment(template: &Path, binary: &str) -> Result<BTreeMap<String, String>, TemplateError> {
    let template: Value = serde_norway::from_str(&std::fs::read_to_string(template)?)?;
    let parameters = &template["Parameters"];
    let mut environment = BTreeMap::new();
    let mut add = |variables: &Value| {
        if let Some(variables) = variables.as_mapping() {
            for (name, value) in variables {
                if let Some(name) = name.as_str() {
                    environment.insert(name.to_string(), resolve(value, parameters));
                }
            }
        }
    };
    add(&template["Globals"]["Function"]["Environment"]["Variables"]);
    add(&function(&template, binary)?["Properties"]["Environment"]["Variables"]);
    Ok(environment)
}

fn resolve(value: &Value, parameters: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Tagged(tagged) => match (tagged.tag.to_string().as_str(), &tagged.value) {
            ("!Ref", Value::String(name)) => reference(name, parameters),
            ("!Sub", Value::String(text)) => substitute(text, parameters),
            (_, inner) => format!("coldstart-{}", resolve(inner, parameters)),
        },
        _ => String::new(),
    }
}

fn reference(name: &str, parameters: &Value) -> String {
    match name {
        "AWS::Region" => REGION.to_string(),
        "AWS::AccountId" => ACCOUNT.to_string(),
        _ => match &parameters[name]["Default"] {
            Value::Null => format!("coldstart-{name}"),
            default => resolve(default, parameters),
        },
    }
}

/// `${Name}` replaced by what `!Ref Name` gives; `${Resource.Attribute}` by a placeholder.
fn substitute(text: &str, parameters: &Value) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&reference(&rest[start + 2..start + end], parameters));
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}
