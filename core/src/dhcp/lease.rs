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
    /// are cut to 32 bytes. An empty one (RFC 2132 wants at least 2 bytes)
    /// is kept as one zero byte: a key is never empty.
    pub fn from_client_id(id: &[u8]) -> Self {
        let mut bytes = [0u8; 32];
        let len = id.len().clamp(1, 32);
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

/// One place in the lease table: a lease (or nothing) and the links that
/// index the table by client and by address, so a lookup never scans it.
/// The caller provides the storage (`[LeaseSlot::EMPTY; N]` on a board, a
/// `Vec` on a host); the server initialises it.
#[derive(Debug, Clone, Copy)]
pub struct LeaseSlot {
    /// The lease, when its client key is not empty (a key never is). Not
    /// an `Option<Lease>`: an empty slot is all zero bytes, so a board's
    /// `static` table lands in `.bss`.
    lease: Lease,
    /// Heads of this slot's bucket in the two hash indexes (this slot's
    /// index is the bucket number).
    client_head: u32,
    ip_head: u32,
    /// Next slot in the same bucket; for a free slot, `client_next` links
    /// the free list.
    client_next: u32,
    ip_next: u32,
}

impl LeaseSlot {
    /// An empty slot: all zero bytes. (The server links the slots when it
    /// starts, so what the caller hands in only has to be some `LeaseSlot`.)
    pub const EMPTY: Self = Self {
        lease: Lease {
            client: ClientKey {
                len: 0,
                bytes: [0; 32],
            },
            mac: [0; 6],
            ip: Ipv4Addr::UNSPECIFIED,
            state: LeaseState::Offered,
            expires: Instant::ZERO,
        },
        client_head: 0,
        ip_head: 0,
        client_next: 0,
        ip_next: 0,
    };

    fn used(&self) -> bool {
        self.lease.client.len != 0
    }

    fn lease(&self) -> Option<&Lease> {
        self.used().then_some(&self.lease)
    }

    fn lease_mut(&mut self) -> Option<&mut Lease> {
        self.used().then_some(&mut self.lease)
    }

    fn take(&mut self) -> Option<Lease> {
        let lease = self.lease().copied();
        self.lease.client.len = 0;
        lease
    }

    /// A slot holding nothing, linked nowhere.
    const UNLINKED: Self = Self {
        client_head: NIL,
        ip_head: NIL,
        client_next: NIL,
        ip_next: NIL,
        ..Self::EMPTY
    };
}

impl Default for LeaseSlot {
    fn default() -> Self {
        Self::EMPTY
    }
}

const NIL: u32 = u32::MAX;

fn client_hash(key: &ClientKey) -> u32 {
    // FNV-1a.
    key.as_bytes().iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn ip_hash(ip: Ipv4Addr) -> u32 {
    // Fibonacci hashing: consecutive addresses spread over the buckets.
    u32::from(ip).wrapping_mul(0x9e37_79b9)
}

/// Most address pools (the local subnet's and the relayed ones).
pub const MAX_POOLS: usize = 16;

/// One pool: addresses `first .. first + size`, bits `base ..` of the
/// bitmap.
#[derive(Debug, Clone, Copy)]
struct Pool {
    first: u32,
    size: u32,
    base: u32,
    cursor: u32,
}

impl Pool {
    fn index_of(&self, ip: Ipv4Addr) -> Option<u32> {
        u32::from(ip)
            .checked_sub(self.first)
            .filter(|i| *i < self.size)
    }
}

pub(crate) struct Table<'a> {
    slots: ManagedSlice<'a, LeaseSlot>,
    bitmap: ManagedSlice<'a, u8>,
    pools: heapless::Vec<Pool, MAX_POOLS>,
    /// First slot of the free list.
    free: u32,
    /// No lease lapses before this (a lower bound: a removed lease may
    /// leave it early, which costs one needless sweep).
    next_expiry: Option<Instant>,
}

/// Bytes of bitmap a pool of `first..=last` needs (for several pools:
/// the sum, as [`super::Config::pool_bitmap_len`] counts it).
pub fn pool_bitmap_len(first: Ipv4Addr, last: Ipv4Addr) -> usize {
    let size = u32::from(last)
        .saturating_sub(u32::from(first))
        .saturating_add(1);
    (size as usize).div_ceil(8)
}

impl<'a> Table<'a> {
    /// A table over `slots`, with the pools `first..=last` of `pools` (in
    /// order: the first is the local subnet's) sharing `bitmap`; a pool
    /// the bitmap has no room left for is cut short. `start` seeds where
    /// each pool starts handing out.
    pub(crate) fn new(
        slots: ManagedSlice<'a, LeaseSlot>,
        bitmap: ManagedSlice<'a, u8>,
        pools: &[(Ipv4Addr, Ipv4Addr)],
        start: u32,
    ) -> Self {
        let bits = u32::try_from(bitmap.len().saturating_mul(8)).unwrap_or(u32::MAX);
        let mut base = 0u32;
        let mut list = heapless::Vec::new();
        for &(first, last) in pools.iter().take(MAX_POOLS) {
            let first = u32::from(first);
            let wanted = u32::from(last).saturating_sub(first).saturating_add(1);
            // Each pool starts on a byte boundary (as `pool_bitmap_len`
            // counts them).
            let size = wanted.min(bits.saturating_sub(base));
            let cursor = if size == 0 { 0 } else { start % size };
            let _ = list.push(Pool {
                first,
                size,
                base,
                cursor,
            });
            base = base.saturating_add(size.div_ceil(8).saturating_mul(8));
        }
        let mut table = Self {
            slots,
            bitmap,
            pools: list,
            free: NIL,
            next_expiry: None,
        };
        table.bitmap.iter_mut().for_each(|b| *b = 0);
        // Slot numbers are u32 links; storage past u32::MAX - 1 slots is
        // left unused.
        let usable = table.capacity();
        for (i, slot) in table.slots.iter_mut().enumerate().take(usable) {
            *slot = LeaseSlot::UNLINKED;
            slot.client_next = if i.saturating_add(1) < usable {
                i.saturating_add(1) as u32
            } else {
                NIL
            };
        }
        table.free = if usable == 0 { NIL } else { 0 };
        table
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len().min(NIL as usize)
    }

    fn buckets(&self) -> u32 {
        self.capacity() as u32
    }

    fn slot(&self, i: u32) -> Option<&LeaseSlot> {
        self.slots.get(i as usize)
    }

    fn slot_mut(&mut self, i: u32) -> Option<&mut LeaseSlot> {
        self.slots.get_mut(i as usize)
    }

    /// Whether `ip` is in any pool.
    pub(crate) fn in_pool(&self, ip: Ipv4Addr) -> bool {
        self.pools.iter().any(|p| p.index_of(ip).is_some())
    }

    fn bit(&self, ip: Ipv4Addr) -> Option<(usize, u8)> {
        let i = self
            .pools
            .iter()
            .find_map(|p| p.index_of(ip).map(|i| p.base.saturating_add(i)))?;
        Some(((i / 8) as usize, 1u8 << (i % 8)))
    }

    fn mark(&mut self, ip: Ipv4Addr, used: bool) {
        if let Some((byte, bit)) = self.bit(ip) {
            if let Some(b) = self.bitmap.get_mut(byte) {
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
            .and_then(|(byte, bit)| self.bitmap.get(byte).map(|b| b & bit != 0))
            .unwrap_or(false)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Lease> + '_ {
        self.slots.iter().filter_map(LeaseSlot::lease)
    }

    /// Walks a bucket chain from `head`, following `next`, and returns the
    /// first slot whose lease satisfies `hit`. A chain never holds more
    /// links than the table has slots, so a damaged one cannot loop.
    fn walk(
        &self,
        head: u32,
        next: impl Fn(&LeaseSlot) -> u32,
        hit: impl Fn(&Lease) -> bool,
    ) -> Option<usize> {
        let mut at = head;
        for _ in 0..self.capacity() {
            let slot = self.slot(at)?;
            if slot.lease().is_some_and(&hit) {
                return Some(at as usize);
            }
            at = next(slot);
        }
        None
    }

    pub(crate) fn find_client(&self, client: &ClientKey) -> Option<usize> {
        let bucket = client_hash(client).checked_rem(self.buckets())?;
        let head = self.slot(bucket)?.client_head;
        self.walk(
            head,
            |s| s.client_next,
            |l| l.client == *client && l.state != LeaseState::Declined,
        )
    }

    pub(crate) fn find_ip(&self, ip: Ipv4Addr) -> Option<usize> {
        let bucket = ip_hash(ip).checked_rem(self.buckets())?;
        let head = self.slot(bucket)?.ip_head;
        self.walk(head, |s| s.ip_next, |l| l.ip == ip)
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&Lease> {
        self.slots.get(slot)?.lease()
    }

    /// Changes a lease's state and expiry (its client and address, which
    /// the indexes hang on, stay).
    pub(crate) fn set_state(&mut self, slot: usize, state: LeaseState, expires: Instant) {
        if let Some(lease) = self.slots.get_mut(slot).and_then(LeaseSlot::lease_mut) {
            lease.state = state;
            lease.expires = expires;
            self.note_expiry(expires);
        }
    }

    fn note_expiry(&mut self, expires: Instant) {
        self.next_expiry = Some(self.next_expiry.map_or(expires, |e| e.min(expires)));
    }

    /// Unlinks slot `i` from the bucket chain starting at `head_of(bucket)`.
    fn unlink(
        &mut self,
        i: u32,
        bucket: u32,
        head: fn(&mut LeaseSlot) -> &mut u32,
        next: fn(&mut LeaseSlot) -> &mut u32,
    ) {
        let after = self.slot_mut(i).map_or(NIL, |s| *next(s));
        let Some(first) = self.slot_mut(bucket).map(|s| *head(s)) else {
            return;
        };
        if first == i {
            if let Some(s) = self.slot_mut(bucket) {
                *head(s) = after;
            }
            return;
        }
        let mut at = first;
        for _ in 0..self.capacity() {
            let Some(s) = self.slot_mut(at) else { return };
            let link = next(s);
            if *link == i {
                *link = after;
                return;
            }
            at = *link;
        }
    }

    /// Frees `slot` and its address.
    pub(crate) fn remove(&mut self, slot: usize) -> Option<Lease> {
        let i = u32::try_from(slot).ok()?;
        let lease = self.slots.get_mut(slot)?.take()?;
        let buckets = self.buckets();
        if let Some(b) = client_hash(&lease.client).checked_rem(buckets) {
            self.unlink(i, b, |s| &mut s.client_head, |s| &mut s.client_next);
        }
        if let Some(b) = ip_hash(lease.ip).checked_rem(buckets) {
            self.unlink(i, b, |s| &mut s.ip_head, |s| &mut s.ip_next);
        }
        let free = self.free;
        if let Some(s) = self.slot_mut(i) {
            s.client_next = free;
            s.ip_next = NIL;
        }
        self.free = i;
        if self.find_ip(lease.ip).is_none() {
            self.mark(lease.ip, false);
        }
        Some(lease)
    }

    /// Frees every lease that has lapsed by `now`; returns how many. Costs
    /// nothing until the earliest lease lapses.
    pub(crate) fn expire(&mut self, now: Instant) -> usize {
        if self.next_expiry.is_none_or(|e| e > now) {
            return 0;
        }
        let mut freed = 0;
        let mut next: Option<Instant> = None;
        for slot in 0..self.capacity() {
            match self.get(slot).map(|l| l.expires) {
                Some(e) if e <= now => {
                    self.remove(slot);
                    freed += 1;
                }
                Some(e) => next = Some(next.map_or(e, |n| n.min(e))),
                None => {}
            }
        }
        self.next_expiry = next;
        freed
    }

    /// Stores `lease`, in the client's slot when it has one, else a free
    /// slot, else the slot of a lapsed lease or of an offer (never a bound
    /// lease). `None` when the table is full.
    pub(crate) fn insert(&mut self, now: Instant, lease: Lease) -> Option<usize> {
        let slot = self
            .find_client(&lease.client)
            .or_else(|| (self.free != NIL).then_some(self.free as usize))
            .or_else(|| {
                self.iter_slots()
                    .position(|s| s.is_some_and(|l| l.expires <= now))
            })
            .or_else(|| {
                self.iter_slots()
                    .position(|s| s.is_some_and(|l| l.state == LeaseState::Offered))
            })?;
        self.remove(slot);
        let i = u32::try_from(slot).ok()?;
        // Take `i` off the free list (after `remove`, it is its head).
        if self.free == i {
            self.free = self.slot(i).map_or(NIL, |s| s.client_next);
        }
        let buckets = self.buckets();
        let client_bucket = client_hash(&lease.client).checked_rem(buckets)?;
        let ip_bucket = ip_hash(lease.ip).checked_rem(buckets)?;
        let client_next = self.slot(client_bucket)?.client_head;
        let ip_next = self.slot(ip_bucket)?.ip_head;
        let s = self.slot_mut(i)?;
        s.lease = lease;
        s.client_next = client_next;
        s.ip_next = ip_next;
        self.slot_mut(client_bucket)?.client_head = i;
        self.slot_mut(ip_bucket)?.ip_head = i;
        self.mark(lease.ip, true);
        self.note_expiry(lease.expires);
        Some(slot)
    }

    fn iter_slots(&self) -> impl Iterator<Item = Option<&Lease>> + '_ {
        self.slots
            .iter()
            .take(self.capacity())
            .map(LeaseSlot::lease)
    }

    /// The next free address of pool `pool` from its cursor, skipping
    /// `skip` (the server's own address, reserved addresses).
    pub(crate) fn next_free(
        &mut self,
        pool: usize,
        mut skip: impl FnMut(Ipv4Addr) -> bool,
    ) -> Option<Ipv4Addr> {
        let p = *self.pools.get(pool)?;
        for step in 0..p.size {
            let i = (p.cursor.wrapping_add(step)) % p.size.max(1);
            let ip = Ipv4Addr::from(p.first.wrapping_add(i));
            if !self.pool_used(ip) && !skip(ip) {
                if let Some(p) = self.pools.get_mut(pool) {
                    p.cursor = i.wrapping_add(1) % p.size.max(1);
                }
                return Some(ip);
            }
        }
        None
    }

    /// When the next lease lapses (or earlier: see `next_expiry`).
    pub(crate) fn earliest_expiry(&self) -> Option<Instant> {
        self.next_expiry
    }
}

#[cfg(test)]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::*;
    use crate::time::Duration;

    #[derive(Debug, Clone)]
    enum Op {
        Insert {
            client: u8,
            ip: u8,
            state: u8,
            ttl: u8,
        },
        Remove {
            client: u8,
        },
        Decline {
            client: u8,
            ttl: u8,
        },
        Tick {
            secs: u8,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..24, 0u8..20, 0u8..2, 1u8..50).prop_map(|(client, ip, state, ttl)| Op::Insert {
                client,
                ip,
                state,
                ttl
            }),
            (0u8..24).prop_map(|client| Op::Remove { client }),
            (0u8..24, 1u8..50).prop_map(|(client, ttl)| Op::Decline { client, ttl }),
            (0u8..30).prop_map(|secs| Op::Tick { secs }),
        ]
    }

    fn key(c: u8) -> ClientKey {
        ClientKey::from_mac(1, &[2, 0, 0, 0, 0, c])
    }

    fn ip(i: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, 100u8.wrapping_add(i))
    }

    proptest! {
        /// The indexed table answers every lookup as a scan of the same
        /// leases would, through any sequence of changes.
        #[test]
        fn index_agrees_with_a_scan(ops in proptest::collection::vec(op(), 1..200)) {
            let mut slots = vec![LeaseSlot::EMPTY; 8];
            let mut bitmap = vec![0u8; pool_bitmap_len(ip(0), ip(15))];
            let mut t = Table::new((&mut slots[..]).into(), (&mut bitmap[..]).into(), &[(ip(0), ip(15))], 0);
            let mut now = Instant::ZERO;
            for op in ops {
                match op {
                    Op::Insert { client, ip: i, state, ttl } => {
                        let state = if state == 0 { LeaseState::Offered } else { LeaseState::Bound };
                        let lease = Lease {
                            client: key(client),
                            mac: [2, 0, 0, 0, 0, client],
                            ip: ip(i),
                            state,
                            expires: now + Duration::from_secs(u64::from(ttl)),
                        };
                        if let Some(s) = t.insert(now, lease) {
                            prop_assert_eq!(t.get(s), Some(&lease));
                        } else {
                            prop_assert_eq!(t.iter().count(), 8);
                        }
                    }
                    Op::Remove { client } => {
                        if let Some(s) = t.find_client(&key(client)) {
                            prop_assert!(t.remove(s).is_some());
                        }
                    }
                    Op::Decline { client, ttl } => {
                        if let Some(s) = t.find_client(&key(client)) {
                            t.set_state(s, LeaseState::Declined, now + Duration::from_secs(u64::from(ttl)));
                        }
                    }
                    Op::Tick { secs } => {
                        now = now + Duration::from_secs(u64::from(secs));
                        t.expire(now);
                        prop_assert!(t.iter().all(|l| l.expires > now));
                    }
                }
                // Lookups agree with a scan.
                let leases: Vec<(usize, Lease)> = (0..8)
                    .filter_map(|s| t.get(s).map(|l| (s, *l)))
                    .collect();
                for c in 0..24 {
                    let scan: Vec<usize> = leases
                        .iter()
                        .filter(|(_, l)| l.client == key(c) && l.state != LeaseState::Declined)
                        .map(|(s, _)| *s)
                        .collect();
                    prop_assert!(scan.len() <= 1, "one live lease per client");
                    prop_assert_eq!(t.find_client(&key(c)), scan.first().copied());
                }
                for i in 0..20 {
                    let held = leases.iter().any(|(_, l)| l.ip == ip(i));
                    prop_assert_eq!(t.find_ip(ip(i)).is_some(), held);
                    if t.in_pool(ip(i)) {
                        prop_assert_eq!(t.pool_used(ip(i)), held);
                    }
                }
                // The free list holds exactly the empty slots.
                let empty = (0..8).filter(|&s| t.get(s).is_none()).count();
                let mut free = 0;
                let mut at = t.free;
                while at != NIL {
                    prop_assert!(t.get(at as usize).is_none());
                    free += 1;
                    prop_assert!(free <= 8);
                    at = t.slot(at).map_or(NIL, |s| s.client_next);
                }
                prop_assert_eq!(free, empty);
                // The expiry bound is never late.
                if let Some(first) = t.iter().map(|l| l.expires).min() {
                    prop_assert!(t.earliest_expiry().is_some_and(|e| e <= first));
                }
            }
        }
    }
}
