//! Background jobs: work that runs on a timer beside the server, in every
//! replica. A job must therefore be safe to run twice at once.

use std::{future::Future, time::Duration};

use tokio::task::JoinHandle;

use super::telemetry::metrics;

/// Runs `job` every `period`, first right away, until the handle is
/// aborted. A run that fails logs and waits for the next.
pub fn every<F, Fut>(period: Duration, name: &'static str, mut job: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<u64, String>> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            let result = job().await;
            metrics::job_run(name, result.is_ok());
            match result {
                Ok(0) => {}
                Ok(done) => tracing::debug!(job = name, done, "background job ran"),
                Err(error) => tracing::warn!(job = name, %error, "background job failed"),
            }
        }
    })
}
