//! The lease table and the address pool, in storage the caller provides.
//!
//! The table holds one slot per client the server remembers (offered,
//! bound, or an address quarantined after a DECLINE). The pool is a bitmap,
//! one bit per address from `first` to `last`, so finding a free address
//! never scans the table. A full table refuses new clients politely (no
//! offer, an event), and never evicts a bound lease.

use core::net::Ipv4Addr;

use managed::ManagedSlice;

use crate::time::Instant;

/// How the server knows a client: its client identifier (option 61) when it
/// sends one (up to 32 bytes are kept), else its hardware address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientKey {
    len: u8,
    bytes: [u8; 32],
}

impl ClientKey {
    /// From option 61's bytes (type then identifier); longer identifiers
    /// are cut to 32 bytes.
    pub fn from_client_id(id: &[u8]) -> Self {
        let mut bytes = [0u8; 32];
        let len = id.len().min(32);
        if let (Some(dst), Some(src)) = (bytes.get_mut(..len), id.get(..len)) {
            dst.copy_from_slice(src);
        }
        Self {
            len: len as u8,
            bytes,
        }
    }

    /// From a hardware address: type 1 (Ethernet) then the address, the
    /// form option 61 takes for it, so a client that sends 61 = 01:MAC and
    /// one that sends no 61 are the same client.
    pub fn from_mac(htype: u8, chaddr: &[u8]) -> Self {
        let mut bytes = [0u8; 32];
        let len = chaddr.len().min(16);
        if let Some(first) = bytes.first_mut() {
            *first = htype;
        }
        if let (Some(dst), Some(src)) = (bytes.get_mut(1..=len), chaddr.get(..len)) {
            dst.copy_from_slice(src);
        }
        Self {
            len: (len + 1) as u8,
            bytes,
        }
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// Where a lease stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LeaseState {
    /// Offered, held until `expires` for the client's REQUEST.
    Offered,
    /// Acknowledged, the client's until `expires`.
    Bound,
    /// Declined by a client (in use on the wire): kept out of the pool
    /// until `expires`.
    Declined,
}

/// One remembered client (or quarantined address). (No `defmt::Format`:
/// `core::net::Ipv4Addr` has none; firmware logs the fields.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The client.
    pub client: ClientKey,
    /// Its hardware address (for logs and reservations).
    pub mac: [u8; 6],
    /// The address.
    pub ip: Ipv4Addr,
    /// Where it stands.
    pub state: LeaseState,
    /// When it lapses.
    pub expires: Instant,
}

pub(crate) struct Table<'a> {
    slots: ManagedSlice<'a, Option<Lease>>,
    pool: ManagedSlice<'a, u8>,
    first: u32,
    size: u32,
    cursor: u32,
}

/// Bytes of bitmap a pool of `first..=last` needs.
pub fn pool_bitmap_len(first: Ipv4Addr, last: Ipv4Addr) -> usize {
    let size = u32::from(last)
        .saturating_sub(u32::from(first))
        .saturating_add(1);
    (size as usize).div_ceil(8)
}

impl<'a> Table<'a> {
    pub(crate) fn new(
        slots: ManagedSlice<'a, Option<Lease>>,
        pool: ManagedSlice<'a, u8>,
        first: Ipv4Addr,
        last: Ipv4Addr,
        start: u32,
    ) -> Self {
        let first_n = u32::from(first);
        let wanted = u32::from(last).saturating_sub(first_n).saturating_add(1);
        // The pool cannot be larger than its bitmap.
        let size = wanted.min(u32::try_from(pool.len().saturating_mul(8)).unwrap_or(u32::MAX));
        let mut table = Self {
            slots,
            pool,
            first: first_n,
            size,
            cursor: 0,
        };
        table.pool.iter_mut().for_each(|b| *b = 0);
        table.cursor = if size == 0 { 0 } else { start % size };
        table
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn in_pool(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip)
            .checked_sub(self.first)
            .is_some_and(|i| i < self.size)
    }

    fn bit(&self, ip: Ipv4Addr) -> Option<(usize, u8)> {
        let i = u32::from(ip)
            .checked_sub(self.first)
            .filter(|i| *i < self.size)?;
        Some(((i / 8) as usize, 1u8 << (i % 8)))
    }

    fn mark(&mut self, ip: Ipv4Addr, used: bool) {
        if let Some((byte, bit)) = self.bit(ip) {
            if let Some(b) = self.pool.get_mut(byte) {
                if used {
                    *b |= bit;
                } else {
                    *b &= !bit;
                }
            }
        }
    }

    /// Whether `ip` is held by anyone (pool addresses only; addresses
    /// outside the pool are reservations and checked by the caller).
    pub(crate) fn pool_used(&self, ip: Ipv4Addr) -> bool {
        self.bit(ip)
            .and_then(|(byte, bit)| self.pool.get(byte).map(|b| b & bit != 0))
            .unwrap_or(false)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Lease> + '_ {
        self.slots.iter().flatten()
    }

    pub(crate) fn find_client(&self, client: &ClientKey) -> Option<usize> {
        self.slots.iter().position(|s| {
            s.as_ref()
                .is_some_and(|l| l.client == *client && l.state != LeaseState::Declined)
        })
    }

    pub(crate) fn find_ip(&self, ip: Ipv4Addr) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|l| l.ip == ip))
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&Lease> {
        self.slots.get(slot)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, slot: usize) -> Option<&mut Lease> {
        self.slots.get_mut(slot)?.as_mut()
    }

    /// Frees `slot` and its address.
    pub(crate) fn remove(&mut self, slot: usize) -> Option<Lease> {
        let lease = self.slots.get_mut(slot)?.take()?;
        if self.find_ip(lease.ip).is_none() {
            self.mark(lease.ip, false);
        }
        Some(lease)
    }

    /// Frees every lease that has lapsed by `now`; returns how many.
    pub(crate) fn expire(&mut self, now: Instant) -> usize {
        let mut freed = 0;
        for slot in 0..self.slots.len() {
            if self.get(slot).is_some_and(|l| l.expires <= now) {
                self.remove(slot);
                freed += 1;
            }
        }
        freed
    }

    /// Stores `lease`, in the client's slot when it has one, else a free
    /// slot, else the slot of a lapsed lease or of an offer (never a bound
    /// lease). `None` when the table is full.
    pub(crate) fn insert(&mut self, now: Instant, lease: Lease) -> Option<usize> {
        let slot = self
            .find_client(&lease.client)
            .or_else(|| self.slots.iter().position(Option::is_none))
            .or_else(|| {
                self.slots
                    .iter()
                    .position(|s| s.as_ref().is_some_and(|l| l.expires <= now))
            })
            .or_else(|| {
                self.slots
                    .iter()
                    .position(|s| s.as_ref().is_some_and(|l| l.state == LeaseState::Offered))
            })?;
        self.remove(slot);
        self.mark(lease.ip, true);
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(lease);
        }
        Some(slot)
    }

    /// The next free pool address from the cursor, skipping `skip` (the
    /// server's own address, reserved addresses).
    pub(crate) fn next_free(&mut self, mut skip: impl FnMut(Ipv4Addr) -> bool) -> Option<Ipv4Addr> {
        for step in 0..self.size {
            let i = (self.cursor.wrapping_add(step)) % self.size.max(1);
            let ip = Ipv4Addr::from(self.first.wrapping_add(i));
            if !self.pool_used(ip) && !skip(ip) {
                self.cursor = i.wrapping_add(1) % self.size.max(1);
                return Some(ip);
            }
        }
        None
    }

    pub(crate) fn earliest_expiry(&self) -> Option<Instant> {
        self.iter().map(|l| l.expires).min()
    }
}
