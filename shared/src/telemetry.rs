//! Logging setup shared by every binary: JSON in Lambda, readable text elsewhere.

/// JSON logs in Lambda (for CloudWatch Logs Insights), readable text elsewhere.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // A subscriber installed earlier (a test harness) stays; that is not an error.
    let _ = if in_lambda {
        builder
            .json()
            .with_current_span(true)
            .without_time()
            .with_target(false)
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
}
