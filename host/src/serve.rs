//! `awl serve`: every service (DHCP, TFTP, HTTP) on a thread of its own,
//! under one supervisor, with the settings [`crate::settings::serve`]
//! merged.

use std::sync::Arc;

use anyhow::Result;

use crate::install::InstallSite;
use crate::settings::serve::ServeSettings;
use crate::supervise::Services;
use crate::{dhcp, tftp};

/// Starts every service and runs until one fails (an error: awl exits
/// non-zero) or a signal asks awl to stop.
pub fn run(settings: ServeSettings) -> Result<()> {
    let ServeSettings {
        tftp: options,
        dhcp: dhcp_options,
        install,
    } = settings;
    // Every service on a thread of its own (so file serving never delays
    // DHCP), all under one shutdown: the first to fail stops awl.
    let mut services = Services::default();
    // Every event is counted for /metrics as it is published.
    let counters = Arc::new(crate::metrics::Counters::default());
    let events = crate::events::Events::counted(counters.clone());
    let mut discovered = None;
    // The install states follow DHCP's answers (`seen`).
    if let (Some(cache), Some(states)) = (install.cache.clone(), install.states.clone()) {
        crate::lifecycle::watch_dhcp(&events, cache.clone(), states.clone())?;
        // Machines the inventory does not know, listed for adoption.
        discovered = Some(crate::discovery::watch(
            &events,
            cache,
            states.dir().to_path_buf(),
        )?);
        crate::lifecycle::publish_changes(states, events.clone())?;
    }
    let lease_file = dhcp_options.as_ref().map(|d| d.lease_file.clone());
    // Installers' syslog, filed under their systems.
    if let (Some(listen), Some(cache), Some(states)) = (
        install.syslog_listen,
        install.cache.clone(),
        install.states.clone(),
    ) {
        let settings = crate::syslog::SyslogSettings {
            listen,
            cache,
            lease_file: lease_file.clone(),
            states,
        };
        crate::syslog::start(settings, &events, &mut services)?;
    } else if install.syslog_listen.is_some() {
        tracing::warn!("syslog: --syslog-listen needs an inventory (--inventory): not listening");
    }
    if let Some(dhcp_options) = dhcp_options {
        dhcp::start(dhcp_options, &events, &mut services)?;
    }
    if let (Some(listen), Some(server)) = (install.http_listen, install.server.clone()) {
        let mut settings = crate::http::HttpSettings::new(
            listen,
            vec![crate::http::Mount {
                prefix: "/boot/".into(),
                root: options.root.clone(),
            }],
        );
        settings.events = Some(events.clone());
        let site: Option<Arc<dyn crate::http::Dynamic>> = match install.cache.clone() {
            None => None,
            Some(cache) => {
                let boot: Arc<dyn crate::http::Dynamic> =
                    Arc::new(site(cache.clone(), &install, server, lease_file.as_ref()));
                // The API, the page and /metrics in front of the boot
                // answers (they need the state folder for their token).
                Some(match install.states.clone() {
                    Some(states) => Arc::new(crate::api::Api::new(
                        cache,
                        states,
                        events.clone(),
                        counters.clone(),
                        discovered.clone(),
                        lease_file.clone(),
                        boot,
                    )?),
                    None => boot,
                })
            }
        };
        let (run, stop) = crate::http::bind(settings, site)?;
        services.spawn("http", run, stop)?;
        tracing::info!("http: serving on {listen}");
    }
    // Boot configs and boot.ipxe over TFTP too, where loaders ask there.
    let dynamic = install
        .cache
        .clone()
        .zip(install.server.clone())
        .map(|(cache, server)| {
            Arc::new(site(cache, &install, server, lease_file.as_ref()))
                as Arc<dyn tftp::DynamicFiles>
        });
    tftp::start_with(options, dynamic, &events, &mut services)?;
    services.supervise()
}

/// The install site, with the install states when there are some.
fn site(
    cache: Arc<crate::inventory::store::InventoryCache>,
    install: &crate::settings::serve::Install,
    server: crate::install::Server,
    lease_file: Option<&std::path::PathBuf>,
) -> InstallSite {
    let mut site = InstallSite::new(cache, install.renderer.clone(), server);
    if let Some(lease_file) = lease_file {
        site = site.with_leases(lease_file.clone());
    }
    match &install.states {
        Some(states) => site.with_states(states.clone()),
        None => site,
    }
}
