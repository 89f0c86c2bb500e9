//! `awl serve`'s services under one shutdown.
//!
//! Each service (DHCP, TFTP) runs on a thread of its own and reports how it
//! ended. A service runs until it is asked to stop, so the first one to end,
//! with an error or without, stops the others and awl: the reason is logged
//! at error level and returned, so it is also printed on stderr and awl exits
//! non-zero. SIGINT and SIGTERM stop every service and awl exits with
//! success.

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tracing::{error, info, warn};

/// How long the services may take to stop before awl exits without them.
const GRACE: Duration = Duration::from_secs(5);

/// A service's end: its name and what it returned.
type Ended = (&'static str, Result<()>);

/// The running services.
pub struct Services {
    ended_tx: UnboundedSender<Ended>,
    ended: UnboundedReceiver<Ended>,
    /// How to ask each running service to stop.
    stops: Vec<Box<dyn FnOnce() + Send>>,
}

impl Default for Services {
    fn default() -> Self {
        let (ended_tx, ended) = unbounded_channel();
        Self {
            ended_tx,
            ended,
            stops: Vec::new(),
        }
    }
}

impl Services {
    /// Runs `service` on a thread named `awl-NAME`. `stop` asks it to
    /// end; it then returns `Ok` promptly. A panic counts as an error.
    pub fn spawn(
        &mut self,
        name: &'static str,
        service: impl FnOnce() -> Result<()> + Send + 'static,
        stop: impl FnOnce() + Send + 'static,
    ) -> Result<()> {
        let ended = self.ended_tx.clone();
        std::thread::Builder::new()
            .name(format!("awl-{name}"))
            .spawn(move || {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(service))
                    .unwrap_or_else(|_| Err(anyhow!("panicked")));
                let _ = ended.send((name, result));
            })
            .with_context(|| format!("cannot start the {name} thread"))?;
        self.stops.push(Box::new(stop));
        Ok(())
    }

    /// Waits until a service ends or a signal asks awl to stop, then stops
    /// every service (waiting up to [`GRACE`] for them). The error, when
    /// there is one, names the service that failed first and why.
    pub fn supervise(mut self) -> Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
            let mut running = self.stops.len();
            let mut failure = tokio::select! {
                Some((name, result)) = self.ended.recv() => {
                    running -= 1;
                    // A service runs until it is asked to stop: ending at
                    // all is a failure.
                    let e = result.err().unwrap_or_else(|| anyhow!("ended without an error"));
                    Some(failed(name, e))
                }
                _ = tokio::signal::ctrl_c() => {
                    info!("awl: interrupted, stopping");
                    None
                }
                _ = terminate.recv() => {
                    info!("awl: terminated, stopping");
                    None
                }
            };
            for stop in self.stops.drain(..) {
                stop();
            }
            let rest = tokio::time::timeout(GRACE, async {
                for _ in 0..running {
                    let Some((name, result)) = self.ended.recv().await else {
                        break;
                    };
                    if let Err(e) = result {
                        let e = failed(name, e);
                        failure.get_or_insert(e);
                    }
                }
            });
            if rest.await.is_err() {
                warn!("awl: a service did not stop within {GRACE:?}; exiting without it");
            }
            failure.map_or(Ok(()), Err)
        })
    }
}

/// Logs a service's failure at error level; returns it, naming the service.
fn failed(name: &str, e: anyhow::Error) -> anyhow::Error {
    let e = e.context(format!("{name} stopped"));
    error!("{e:#}");
    e
}
