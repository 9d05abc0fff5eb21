//! The CloudWatch adapter of the metrics port: `PutMetricData` into the stack's namespace, which its alarms watch.

use super::on_first_use::OnFirstUse;
use crate::kernel::metrics::{Metric, Metrics, MetricsError};
use async_trait::async_trait;
use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::types::{MetricDatum, StandardUnit};
use aws_sdk_cloudwatch::Client;

#[derive(Clone)]
pub struct CloudWatchMetrics {
    client: OnFirstUse<Client>,
    namespace: String,
}

impl CloudWatchMetrics {
    /// The SDK client, built by the first request that needs it.
    fn client(&self) -> &Client {
        self.client.get()
    }

    pub fn new(config: &aws_config::SdkConfig, namespace: impl Into<String>) -> Self {
        CloudWatchMetrics {
            client: {
                let config = config.clone();
                OnFirstUse::new(move || Client::new(&config))
            },
            namespace: namespace.into(),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }
}

#[async_trait]
impl Metrics for CloudWatchMetrics {
    async fn publish(&self, metrics: &[Metric]) -> Result<(), MetricsError> {
        let data = metrics
            .iter()
            .map(|m| {
                MetricDatum::builder()
                    .metric_name(m.name)
                    .value(m.value)
                    .unit(StandardUnit::from(m.unit))
                    .build()
            })
            .collect::<Vec<_>>();
        self.client()
            .put_metric_data()
            .namespace(&self.namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .map_err(|e| MetricsError(DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}
