//! The drivers' clock: the core takes time as an argument, measured here
//! from an epoch taken when a driver starts.

use std::time::{Duration, Instant as StdInstant};

use awl_core::time::Instant;

/// The core's `Instant` for now, counted from `epoch`.
pub fn core_now(epoch: StdInstant) -> Instant {
    Instant::from_micros(i64::try_from(epoch.elapsed().as_micros()).unwrap_or(i64::MAX))
}

/// Sleeps until the core's `deadline` (counted from `epoch`); forever when
/// there is none.
pub async fn sleep_until(epoch: StdInstant, deadline: Option<Instant>) {
    match deadline {
        Some(d) => {
            let at = epoch + Duration::from_micros(u64::try_from(d.total_micros()).unwrap_or(0));
            tokio::time::sleep_until(at.into()).await;
        }
        None => std::future::pending().await,
    }
}
