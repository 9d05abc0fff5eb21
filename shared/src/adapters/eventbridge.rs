//! The EventBridge adapter of the notifier and issuer ports: events on the service's bus.
//!
//! `ApplicationApproved` events are routed by a rule to the issue function;
//! notices (`LicenceIssued`, ...) are for the push service that subscribes. A notice may arrive more than once
//! (a re-delivery by the sweep, EventBridge's own at-least-once delivery): its `noticeId` tells a repeat apart.

use super::on_first_use::OnFirstUse;
use crate::applications::application::Application;
use crate::applications::ports::{Issuer, IssuerError};
use crate::kernel::notice::{Notifier, NotifierError, PendingNotice};
use async_trait::async_trait;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;
use serde_json::json;

/// The `source` of every event the service puts on the bus.
pub const SOURCE: &str = "edl.backend";
pub const APPLICATION_APPROVED: &str = "ApplicationApproved";

#[derive(Clone)]
pub struct EventBus {
    client: OnFirstUse<Client>,
    bus: String,
}

impl EventBus {
    /// The SDK client, built by the first request that needs it.
    fn client(&self) -> &Client {
        self.client.get()
    }

    pub fn new(config: &aws_config::SdkConfig, bus: impl Into<String>) -> Self {
        EventBus {
            client: {
                let config = config.clone();
                OnFirstUse::new(move || Client::new(&config))
            },
            bus: bus.into(),
        }
    }

    async fn put(&self, detail_type: &str, detail: String) -> Result<(), String> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .build();
        let out = self
            .client()
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| format!("PutEvents: {}", DisplayErrorContext(e)))?;
        if out.failed_entry_count() > 0 {
            let reason = out
                .entries()
                .iter()
                .filter_map(|e| e.error_message())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(format!("PutEvents refused the event: {reason}"));
        }
        Ok(())
    }
}

#[async_trait]
impl Notifier for EventBus {
    async fn notify(&self, notice: &PendingNotice) -> Result<(), NotifierError> {
        let detail = notice.detail()?;
        let kind = detail
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("Notice")
            .to_string();
        self.put(&kind, detail.to_string())
            .await
            .map_err(NotifierError::Unavailable)
    }
}

#[async_trait]
impl Issuer for EventBus {
    async fn request_issuance(&self, application: &Application) -> Result<(), IssuerError> {
        let detail = json!({ "applicationId": application.id });
        self.put(APPLICATION_APPROVED, detail.to_string())
            .await
            .map_err(IssuerError::Failed)
    }
}
