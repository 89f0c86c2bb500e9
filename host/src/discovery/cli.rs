//! `awl discovered`: the machines that network-booted and that the
//! inventory does not know, from the list `awl serve` keeps (safe while it
//! writes: every version is whole).

use anyhow::{anyhow, Result};
use clap::Args;

use super::{List, Machine};
use crate::inventory::model::Inventory;
use crate::inventory::store::{FileStore, Store};
use crate::lifecycle::cli::{utc, StateFolder};

/// `awl discovered [--json]`
#[derive(Debug, Args)]
pub struct DiscoveredArgs {
    #[command(flatten)]
    pub folder: StateFolder,
    /// JSON (an array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The machines listed in `dir` that `inventory` does not know, seen last
/// first.
pub fn rows(dir: &std::path::Path, inventory: &Inventory) -> Result<Vec<Machine>> {
    Ok(super::unknown_rows(&List::read(dir)?, inventory))
}

impl DiscoveredArgs {
    /// Prints the table (or JSON).
    pub fn run(self) -> Result<()> {
        let path = &self.folder.inventory.path;
        let inventory = Store::load(&FileStore::new(path))
            .map_err(|p| anyhow!("{} has problems:\n{p}", path.display()))?;
        let rows = rows(&self.folder.dir(), &inventory)?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
            return Ok(());
        }
        println!(
            "{:<17}  {:<36}  {:<22}  {:<15}  {:>6}  {:<19}  LAST SEEN",
            "MAC", "UUID", "FIRMWARE", "ADDRESS", "OFFERS", "FIRST SEEN"
        );
        for m in &rows {
            println!(
                "{:<17}  {:<36}  {:<22}  {:<15}  {:>6}  {:<19}  {}",
                m.mac,
                m.uuid.as_deref().unwrap_or("-"),
                m.firmware,
                m.address.map_or_else(|| "-".to_string(), |a| a.to_string()),
                m.offers,
                utc(m.first_seen),
                utc(m.last_seen),
            );
        }
        Ok(())
    }
}
