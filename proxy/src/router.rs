//! The routing table in force and the backends it names.
//!
//! [`Routes`] is one routing table made ready for lookups: a 16384-entry slot → shard array
//! built once, and the backend [`Pool`] of each shard's master (and of its replicas, for
//! `--read-from`). The router holds it in an
//! `ArcSwap`: connections load it once per batch without a lock, and a new table replaces it
//! atomically. Pools are kept by address across tables, so a table that moves slots between
//! the same servers reuses their connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use protocol::routing::{RoutingError, RoutingTable};
use protocol::SLOT_COUNT;
use tokio::sync::{watch, Notify};

use crate::backend::{Pool, PoolStats, Settings};
use crate::config::ReadFrom;

/// No shard owns the slot.
const UNOWNED: u16 = u16::MAX;

/// A routing table ready for lookups.
pub struct Routes {
    pub table: RoutingTable,
    /// Per slot, the index in `pools` of its master, or [`UNOWNED`].
    owner: Box<[u16]>,
    pools: Vec<Arc<Pool>>,
    /// Per shard (as `pools`), its replicas' pools (for `--read-from`).
    replicas: Vec<Vec<Arc<Pool>>>,
}

impl Routes {
    pub fn epoch(&self) -> u64 {
        self.table.epoch
    }

    /// The shard (its index in the table) that owns `slot`.
    pub fn shard_of(&self, slot: u16) -> Option<usize> {
        match self.owner[usize::from(slot)] {
            UNOWNED => None,
            i => Some(usize::from(i)),
        }
    }

    /// The master of the shard at `index`.
    pub fn shard_pool(&self, index: usize) -> &Arc<Pool> {
        &self.pools[index]
    }

    /// The master serving `slot`.
    pub fn pool_for_slot(&self, slot: u16) -> Option<&Arc<Pool>> {
        self.shard_of(slot).map(|i| &self.pools[i])
    }

    /// Where a read-only command for `slot` goes under `mode` (`client`'s reads stay on one
    /// replica, in order): `replica` takes one of the shard's replicas, `replica-preferred` one
    /// not known to be down; either takes the master when there is no such replica.
    pub fn read_pool_for_slot(
        &self,
        slot: u16,
        mode: ReadFrom,
        client: u64,
        resp3: bool,
    ) -> Option<&Arc<Pool>> {
        let shard = self.shard_of(slot)?;
        let replicas = &self.replicas[shard];
        let pick = |candidates: &[&Arc<Pool>]| -> Option<usize> {
            (!candidates.is_empty()).then(|| (client % candidates.len() as u64) as usize)
        };
        let chosen = match mode {
            ReadFrom::Master => None,
            ReadFrom::Replica => {
                let all: Vec<&Arc<Pool>> = replicas.iter().collect();
                pick(&all).map(|i| all[i])
            }
            ReadFrom::ReplicaPreferred => {
                let up: Vec<&Arc<Pool>> = replicas.iter().filter(|p| !p.is_down(resp3)).collect();
                pick(&up).map(|i| up[i])
            }
        };
        Some(chosen.unwrap_or(&self.pools[shard]))
    }

    /// Some master, for commands any of them can answer (TIME).
    pub fn any_pool(&self) -> Option<&Arc<Pool>> {
        self.pools.first()
    }
}

/// The routing table in force, its backends, and the signals around replacing it.
pub struct Router {
    current: ArcSwap<Routes>,
    pools: Mutex<HashMap<String, Arc<Pool>>>,
    settings: Settings,
    /// The epoch in force, for waiting on a newer table.
    epoch: watch::Sender<u64>,
    /// Someone saw a sign that the table is stale (MOVED, a newer epoch in a heartbeat).
    refresh: Notify,
    /// When the table in force was installed (or re-confirmed with the same epoch); `None`
    /// until the first.
    installed: Mutex<Option<Instant>>,
}

impl Router {
    /// A router with an empty table (every slot unowned) until one is installed.
    pub fn new(settings: Settings) -> Router {
        let empty = Routes {
            table: RoutingTable::default(),
            owner: vec![UNOWNED; SLOT_COUNT].into_boxed_slice(),
            pools: Vec::new(),
            replicas: Vec::new(),
        };
        Router {
            current: ArcSwap::from_pointee(empty),
            pools: Mutex::new(HashMap::new()),
            settings,
            epoch: watch::channel(0).0,
            refresh: Notify::new(),
            installed: Mutex::new(None),
        }
    }

    /// The table in force.
    pub fn routes(&self) -> arc_swap::Guard<Arc<Routes>> {
        self.current.load()
    }

    pub fn epoch(&self) -> u64 {
        *self.epoch.borrow()
    }

    /// Replaces the table if `table` is valid and not older than the one in force (an equal
    /// epoch replaces it too: a routing file is reloaded as it is). Returns whether it did.
    pub fn install(&self, table: RoutingTable) -> Result<bool, RoutingError> {
        let owners = table.slot_owners()?;
        if table.epoch < self.epoch() {
            return Ok(false);
        }
        let pools: Vec<Arc<Pool>> = table.shards.iter().map(|s| self.pool(&s.master)).collect();
        let replicas = table
            .shards
            .iter()
            .map(|s| {
                s.replicas.iter().filter(|r| !r.is_empty()).map(|r| self.replica_pool(r)).collect()
            })
            .collect();
        let owner = owners
            .iter()
            .map(|o| o.map_or(UNOWNED, |i| i as u16))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        let epoch = table.epoch;
        self.current.store(Arc::new(Routes { table, owner, pools, replicas }));
        self.epoch.send_replace(epoch);
        *self.installed.lock().expect("installed") = Some(Instant::now());
        Ok(true)
    }

    /// Since the table in force was installed or last re-confirmed (a long-poll answers the
    /// current table at the latest every 30 s); `None` while the proxy has no table.
    pub fn age(&self) -> Option<Duration> {
        self.installed.lock().expect("installed").map(|at| at.elapsed())
    }

    /// Every backend pool ever used, by address, with its connections' stats.
    pub fn pool_stats(&self) -> Vec<(String, PoolStats)> {
        let pools = self.pools.lock().expect("pools");
        pools.iter().map(|(addr, p)| (addr.clone(), p.stats())).collect()
    }

    /// The pool of the backend at `addr` as a master (made on first use).
    pub fn pool(&self, addr: &str) -> Arc<Pool> {
        self.pool_of(addr, false)
    }

    /// The pool of replica reads from the backend at `addr`: separate from its master pool,
    /// because its connections say READONLY (see [`Settings::readonly`]).
    pub fn replica_pool(&self, addr: &str) -> Arc<Pool> {
        self.pool_of(addr, true)
    }

    fn pool_of(&self, addr: &str, readonly: bool) -> Arc<Pool> {
        let key = if readonly { format!("{addr} (replica reads)") } else { addr.to_string() };
        let mut pools = self.pools.lock().expect("pools");
        if let Some(p) = pools.get(&key) {
            return p.clone();
        }
        let settings = Settings { readonly, ..self.settings.clone() };
        let p = Arc::new(Pool::new(addr.to_string(), settings));
        pools.insert(key, p.clone());
        p
    }

    /// Waits until a table newer than `epoch` is in force, at most `max`.
    pub async fn wait_newer(&self, epoch: u64, max: Duration) {
        let mut rx = self.epoch.subscribe();
        let _ = tokio::time::timeout(max, rx.wait_for(|e| *e > epoch)).await;
    }

    /// Asks the routing refresher to fetch the table now.
    pub fn request_refresh(&self) {
        self.refresh.notify_one();
    }

    /// Completes when someone asked for a refresh.
    pub async fn refresh_requested(&self) {
        self.refresh.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::routing::{ShardRoute, SlotRange};

    fn table(epoch: u64, masters: &[&str]) -> RoutingTable {
        let ranges = SlotRange::split_even(masters.len());
        RoutingTable {
            epoch,
            shards: masters
                .iter()
                .zip(ranges)
                .enumerate()
                .map(|(i, (m, r))| ShardRoute {
                    id: i as u32,
                    shard_epoch: 0,
                    master: m.to_string(),
                    replicas: vec![],
                    slots: vec![r],
                })
                .collect(),
        }
    }

    #[tokio::test]
    async fn reads_pick_a_replica_as_the_mode_says() {
        let r = Router::new(Settings {
            connections: 1,
            max_in_flight: 8,
            password: None,
            readonly: false,
        });
        let mut t = table(1, &["m0:1", "m1:1"]);
        t.shards[0].replicas = vec!["r0a:1".into(), "r0b:1".into()];
        assert!(r.install(t).unwrap());
        let routes = r.routes();
        let read = |slot, mode, client| {
            routes.read_pool_for_slot(slot, mode, client, false).unwrap().addr().to_string()
        };
        assert_eq!(read(0, ReadFrom::Master, 0), "m0:1");
        assert_eq!(read(0, ReadFrom::Replica, 0), "r0a:1");
        assert_eq!(read(0, ReadFrom::Replica, 1), "r0b:1");
        // Not opened yet is not down.
        assert_eq!(read(0, ReadFrom::ReplicaPreferred, 2), "r0a:1");
        // No replicas: the master.
        assert_eq!(read(16383, ReadFrom::Replica, 0), "m1:1");
    }

    #[tokio::test]
    async fn tables_replace_in_epoch_order_and_share_pools() {
        let r = Router::new(Settings {
            connections: 1,
            max_in_flight: 8,
            password: None,
            readonly: false,
        });
        assert!(r.routes().pool_for_slot(0).is_none());
        assert!(r.age().is_none());
        assert!(r.install(table(2, &["a:1", "b:1", "c:1"])).unwrap());
        assert!(r.age().is_some());
        assert_eq!(r.routes().pool_for_slot(0).unwrap().addr(), "a:1");
        assert_eq!(r.routes().pool_for_slot(16383).unwrap().addr(), "c:1");
        let before = r.routes().pool_for_slot(16383).unwrap().clone();
        assert!(!r.install(table(1, &["x:1"])).unwrap());
        assert!(r.install(table(3, &["c:1"])).unwrap());
        assert!(Arc::ptr_eq(&before, r.routes().pool_for_slot(0).unwrap()));
        assert_eq!(r.epoch(), 3);
        let mut bad = table(4, &["a:1", "b:1"]);
        bad.shards[1].slots.push(SlotRange::new(0, 0));
        assert!(r.install(bad).is_err());
        assert_eq!(r.epoch(), 3);
    }
}
