//! The Lambda adapter of the page renderer: the pages function draws the PNG, invoked synchronously.
//!
//! The licence function sends the page's text and portrait and gets the PNG back, so that it links neither the
//! renderer nor its font (issue 18: each function under 8 MB). A request and its answer are each bounded by
//! Lambda's 6 MB synchronous payload, the same bound the licence function's own answer through API Gateway has.

use super::on_first_use::OnFirstUse;
use crate::credential::pages::{PageError, PageRenderer, PngAnswer, PngRequest};
use async_trait::async_trait;
use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;

/// How much of a failed invocation's payload an error quotes.
const QUOTED: usize = 200;

/// The pages function, named by the deployment (`PAGES_FUNCTION`).
pub struct PageFunction {
    client: OnFirstUse<aws_sdk_lambda::Client>,
    name: String,
}

impl PageFunction {
    pub fn new(config: &aws_config::SdkConfig, name: String) -> Self {
        let config = config.clone();
        PageFunction {
            client: OnFirstUse::new(move || aws_sdk_lambda::Client::new(&config)),
            name,
        }
    }
}

#[async_trait]
impl PageRenderer for PageFunction {
    async fn png(&self, page: &PngRequest) -> Result<Vec<u8>, PageError> {
        let payload = serde_json::to_vec(page).map_err(|e| PageError::Request(e.to_string()))?;
        let answer = self
            .client
            .get()
            .invoke()
            .function_name(&self.name)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| PageError::Unreachable(format!("{}: {}", self.name, DisplayErrorContext(&e))))?;
        let body = answer.payload().map(|payload| payload.as_ref()).unwrap_or_default();
        if let Some(kind) = answer.function_error() {
            // The runtime's own report ({"errorType", "errorMessage"}): a crash or a timeout, not a refusal.
            let quoted = String::from_utf8_lossy(&body[..body.len().min(QUOTED)]).into_owned();
            return Err(PageError::Unreachable(format!(
                "{} failed ({kind}): {quoted}",
                self.name
            )));
        }
        serde_json::from_slice::<PngAnswer>(body)
            .map_err(|e| PageError::Unreachable(format!("{} answered something other than a page: {e}", self.name)))?
            .into_png()
    }
}
