//! The table of TLS handshakes in progress: who is pending, from which source IP, in which
//! order they arrived, and whether their ClientHello is in. It decides whom to shed so that
//! a new connection always gets a slot: when the new connection's IP is at its cap, that
//! IP's oldest pending handshake goes; else, when the table is full, the oldest pending
//! handshake of all goes. Handshakes still waiting for their ClientHello go first (a real
//! client sends it at once; an idle connection never does), so a flood of idle connections
//! sheds its own members rather than a client midway through its handshake. Nothing here
//! does I/O or waits: the accept loop never blocks on it.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;

use tokio_util::sync::CancellationToken;

/// The source a per-IP cap counts: an IPv4 address (also when mapped into IPv6), or an
/// IPv6 /64, the block one host or site usually gets (it could otherwise hop between
/// addresses at will).
pub fn source(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// Why a pending handshake was shed to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShedReason {
    /// The new connection's IP already had its cap of pending handshakes.
    SameIp,
    /// The table was full.
    Full,
}

/// A handshake shed to make room for a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shed {
    pub reason: ShedReason,
    /// The shed handshake's source (see [`source`]).
    pub ip: IpAddr,
}

/// The slot a new connection got.
#[derive(Debug)]
pub struct Admitted {
    pub id: u64,
    /// Cancelled when this handshake is shed.
    pub cancel: CancellationToken,
    pub shed: Option<Shed>,
}

struct Handshake {
    ip: IpAddr,
    cancel: CancellationToken,
    /// Its ClientHello is in.
    hello: bool,
}

/// Pending handshakes, bounded in total (`capacity`) and per source IP (`per_ip`).
pub struct Pending {
    capacity: usize,
    per_ip: usize,
    next_id: u64,
    /// Ids grow with arrival, so the first entry is the oldest.
    by_age: BTreeMap<u64, Handshake>,
    /// Each IP's pending ids, oldest first; an IP without any has no entry, so the map
    /// holds at most `capacity` keys.
    by_ip: HashMap<IpAddr, VecDeque<u64>>,
}

impl Pending {
    /// `capacity` and `per_ip` are at least 1 (checked with the config).
    pub fn new(capacity: usize, per_ip: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            per_ip: per_ip.max(1),
            next_id: 0,
            by_age: BTreeMap::new(),
            by_ip: HashMap::new(),
        }
    }

    /// Gives a new connection from `ip` a slot, shedding at most one pending handshake.
    pub fn admit(&mut self, ip: IpAddr) -> Admitted {
        let ip = source(ip);
        let shed = if self.pending_from(ip) >= self.per_ip {
            let ids = self.by_ip.get(&ip).map(|ids| ids.iter().copied());
            self.first_to_shed(ids.into_iter().flatten())
                .and_then(|oldest| self.shed(oldest, ShedReason::SameIp))
        } else if self.by_age.len() >= self.capacity {
            self.first_to_shed(self.by_age.keys().copied())
                .and_then(|oldest| self.shed(oldest, ShedReason::Full))
        } else {
            None
        };
        let id = self.next_id;
        self.next_id += 1;
        let cancel = CancellationToken::new();
        self.by_age.insert(
            id,
            Handshake {
                ip,
                cancel: cancel.clone(),
                hello: false,
            },
        );
        self.by_ip.entry(ip).or_default().push_back(id);
        Admitted { id, cancel, shed }
    }

    /// Records that handshake `id`'s ClientHello is in: it is shed only after every
    /// handshake still waiting for one.
    pub fn hello_received(&mut self, id: u64) {
        if let Some(handshake) = self.by_age.get_mut(&id) {
            handshake.hello = true;
        }
    }

    /// Of `ids` (oldest first), the oldest still waiting for its ClientHello, else the
    /// oldest.
    fn first_to_shed(&self, mut ids: impl Iterator<Item = u64> + Clone) -> Option<u64> {
        let oldest = ids.clone().next();
        ids.find(|id| {
            self.by_age
                .get(id)
                .is_some_and(|handshake| !handshake.hello)
        })
        .or(oldest)
    }

    /// Frees the slot of a handshake that ended (a no-op when it was shed).
    pub fn release(&mut self, id: u64) {
        let Some(handshake) = self.by_age.remove(&id) else {
            return;
        };
        if let Entry::Occupied(mut ids) = self.by_ip.entry(handshake.ip) {
            ids.get_mut().retain(|&pending| pending != id);
            if ids.get().is_empty() {
                ids.remove();
            }
        }
    }

    /// Handshakes pending now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_age.len()
    }

    /// Handshakes pending now from `ip`.
    pub fn pending_from(&self, ip: IpAddr) -> usize {
        self.by_ip.get(&source(ip)).map_or(0, VecDeque::len)
    }

    /// Source IPs with a pending handshake.
    #[cfg(test)]
    pub fn ips(&self) -> usize {
        self.by_ip.len()
    }

    fn shed(&mut self, id: u64, reason: ShedReason) -> Option<Shed> {
        let ip = self.by_age.get(&id)?.ip;
        let cancel = self.by_age.get(&id)?.cancel.clone();
        self.release(id);
        cancel.cancel();
        Some(Shed { reason, ip })
    }
}
