//! Logging setup shared by every binary: JSON in Lambda, readable text elsewhere.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// JSON logs in Lambda (for CloudWatch Logs Insights), readable text elsewhere, filtered by `RUST_LOG`
/// (`info` by default).
pub fn init_tracing() {
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let registry = tracing_subscriber::registry().with(filter(std::env::var("RUST_LOG").ok().as_deref()));
    // A subscriber installed earlier (a test harness) stays; that is not an error.
    let _ = if in_lambda {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .without_time()
                    .with_target(false),
            )
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init()
    };
}

/// The filter `RUST_LOG` asks for: a default level and levels by target (`warn,shared=debug`), or `info` when it
/// is unset or unreadable. Targets and levels only, with no regular expression engine (a cold start parses it, and
/// every function would otherwise link one).
fn filter(directives: Option<&str>) -> Targets {
    directives
        .filter(|directives| !directives.trim().is_empty())
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_sets_the_default_and_per_target_levels() {
        let unset = filter(None);
        assert!(unset.would_enable("shared::service", &Level::INFO));
        assert!(!unset.would_enable("shared::service", &Level::DEBUG));

        let set = filter(Some("warn,shared::adapters=debug"));
        assert!(set.would_enable("shared::adapters::dynamodb", &Level::DEBUG));
        assert!(!set.would_enable("shared::service", &Level::INFO));
        assert!(set.would_enable("shared::service", &Level::WARN));

        let unreadable = filter(Some("shared=loud"));
        assert!(unreadable.would_enable("shared", &Level::INFO));
        assert!(!unreadable.would_enable("shared", &Level::DEBUG));
    }
}
