//! The routing table: which master serves each hash slot. The config service hands it out
//! (`GET /v1/routing`, and inside every heartbeat reply); proxies route by it, and load it from
//! `--routing-file` when they front servers that no config service manages.
//!
//! The table is small on purpose: slots are kept as ranges per shard, not 16384 entries, and a
//! reader turns it into a per-slot lookup once ([`RoutingTable::slot_owners`]).

use serde::{Deserialize, Serialize};

use crate::slot::SLOT_COUNT;

/// The path of the routing long-poll on the config service.
pub const PATH: &str = "/v1/routing";

/// The highest slot number.
pub const LAST_SLOT: u16 = (SLOT_COUNT - 1) as u16;

/// An inclusive range of slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlotRange {
    pub start: u16,
    pub end: u16,
}

impl SlotRange {
    pub fn new(start: u16, end: u16) -> Self {
        SlotRange { start, end }
    }

    /// `n` ranges splitting all 16384 slots as evenly as possible, in order (the first
    /// `16384 % n` ranges get one slot more). `n` must be in `1..=16384`.
    pub fn split_even(n: usize) -> Vec<SlotRange> {
        assert!((1..=SLOT_COUNT).contains(&n), "cannot split the slots into {n} ranges");
        let (base, extra) = (SLOT_COUNT / n, SLOT_COUNT % n);
        let mut start = 0usize;
        (0..n)
            .map(|i| {
                let len = base + usize::from(i < extra);
                let range = SlotRange { start: start as u16, end: (start + len - 1) as u16 };
                start += len;
                range
            })
            .collect()
    }

    /// How many slots the range holds (0 for a reversed range).
    pub fn len(&self) -> usize {
        (usize::from(self.end) + 1).saturating_sub(usize::from(self.start))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, slot: u16) -> bool {
        (self.start..=self.end).contains(&slot)
    }

    /// Whether the range is well-formed: `start <= end <= 16383`.
    pub fn is_valid(&self) -> bool {
        self.start <= self.end && self.end <= LAST_SLOT
    }
}

impl std::fmt::Display for SlotRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// Which master serves which slots, at one `epoch`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoutingTable {
    /// The cluster map's epoch this table was taken at: a reader holding a newer one ignores
    /// this one.
    pub epoch: u64,
    pub shards: Vec<ShardRoute>,
}

/// One shard as routing needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShardRoute {
    pub id: u32,
    /// +1 on every failover of the shard.
    #[serde(default)]
    pub shard_epoch: u64,
    /// The master's RESP address, `host:port`.
    pub master: String,
    /// The replicas' RESP addresses (for reads from replicas; never written to).
    #[serde(default)]
    pub replicas: Vec<String>,
    pub slots: Vec<SlotRange>,
}

/// Why a set of per-shard slot ranges does not assign slots consistently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotsError {
    /// Entry `index` has a range that is reversed or beyond slot 16383.
    #[error("range {range} is not an ascending range within 0-{LAST_SLOT}")]
    OutOfRange { index: usize, range: String },
    /// Entry `second` gives `slot` again; entry `first` already has it.
    #[error("slot {slot} is given twice")]
    Overlap { slot: u16, first: usize, second: usize },
}

impl SlotsError {
    /// The entry at fault.
    pub fn index(&self) -> usize {
        match self {
            SlotsError::OutOfRange { index, .. } => *index,
            SlotsError::Overlap { second, .. } => *second,
        }
    }
}

/// For each of the 16384 slots, the index of the entry of `ranges` that owns it (`None`:
/// nobody). Fails on a malformed range or a slot given twice. The one check behind routing
/// tables, cluster layouts and layout requests.
pub fn slot_owners<'a>(
    ranges: impl IntoIterator<Item = &'a [SlotRange]>,
) -> Result<Vec<Option<usize>>, SlotsError> {
    let mut owner = vec![None::<usize>; SLOT_COUNT];
    for (index, list) in ranges.into_iter().enumerate() {
        for range in list {
            if !range.is_valid() {
                let range = format!("{}-{}", range.start, range.end);
                return Err(SlotsError::OutOfRange { index, range });
            }
            for slot in range.start..=range.end {
                if let Some(first) = owner[usize::from(slot)].replace(index) {
                    return Err(SlotsError::Overlap { slot, first, second: index });
                }
            }
        }
    }
    Ok(owner)
}

/// Why a routing table cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    #[error("shard {shard}: slot range {range} is not within 0-{LAST_SLOT}")]
    OutOfRange { shard: u32, range: String },
    #[error("slot {slot} is given to both shard {first} and shard {second}")]
    Overlap { slot: u16, first: u32, second: u32 },
    #[error("shard {0} appears twice")]
    DuplicateShard(u32),
    #[error("shard {0} has an empty master address")]
    NoMaster(u32),
}

impl RoutingTable {
    /// Checks that every range is in bounds, no slot has two owners, shard ids are unique and
    /// every shard has a master. Slots without an owner are allowed (they are unavailable).
    pub fn validate(&self) -> Result<(), RoutingError> {
        self.owners().map(|_| ())
    }

    /// For each of the 16384 slots, the index in `shards` of its owner. Fails as
    /// [`RoutingTable::validate`] does.
    pub fn slot_owners(&self) -> Result<Vec<Option<usize>>, RoutingError> {
        self.owners()
    }

    fn owners(&self) -> Result<Vec<Option<usize>>, RoutingError> {
        let mut ids = std::collections::BTreeSet::new();
        for shard in &self.shards {
            if !ids.insert(shard.id) {
                return Err(RoutingError::DuplicateShard(shard.id));
            }
            if shard.master.is_empty() {
                return Err(RoutingError::NoMaster(shard.id));
            }
        }
        slot_owners(self.shards.iter().map(|s| s.slots.as_slice())).map_err(|e| match e {
            SlotsError::OutOfRange { index, range } => {
                RoutingError::OutOfRange { shard: self.shards[index].id, range }
            }
            SlotsError::Overlap { slot, first, second } => RoutingError::Overlap {
                slot,
                first: self.shards[first].id,
                second: self.shards[second].id,
            },
        })
    }

    /// The shard that owns `slot` (a linear scan: for occasional lookups; a router builds
    /// [`RoutingTable::slot_owners`] once).
    pub fn shard_for_slot(&self, slot: u16) -> Option<&ShardRoute> {
        self.shards.iter().find(|s| s.slots.iter().any(|r| r.contains(slot)))
    }

    /// How many slots have an owner.
    pub fn assigned_slots(&self) -> usize {
        self.shards.iter().flat_map(|s| &s.slots).map(SlotRange::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RoutingTable {
        let ranges = SlotRange::split_even(3);
        RoutingTable {
            epoch: 4,
            shards: ranges
                .iter()
                .enumerate()
                .map(|(i, r)| ShardRoute {
                    id: i as u32,
                    shard_epoch: 1,
                    master: format!("10.0.0.{i}:7000"),
                    replicas: vec![format!("10.0.1.{i}:7000")],
                    slots: vec![*r],
                })
                .collect(),
        }
    }

    #[test]
    fn split_even_covers_every_slot_once() {
        for n in [1, 3, 8, 16, 16384] {
            let ranges = SlotRange::split_even(n);
            assert_eq!(ranges.len(), n);
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges[n - 1].end, LAST_SLOT);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end + 1, pair[1].start);
            }
            let lens: Vec<usize> = ranges.iter().map(SlotRange::len).collect();
            let (min, max) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
            assert!(max - min <= 1, "n={n}: {min}..{max}");
        }
    }

    #[test]
    fn owners_and_lookups() {
        let t = table();
        t.validate().unwrap();
        let owners = t.slot_owners().unwrap();
        assert_eq!(owners[0], Some(0));
        assert_eq!(owners[5461], Some(0));
        assert_eq!(owners[5462], Some(1));
        assert_eq!(owners[16383], Some(2));
        assert_eq!(t.shard_for_slot(16383).unwrap().master, "10.0.0.2:7000");
        assert_eq!(t.assigned_slots(), SLOT_COUNT);
    }

    #[test]
    fn bad_tables_are_refused() {
        let mut t = table();
        t.shards[1].slots.push(SlotRange::new(0, 0));
        assert_eq!(t.validate(), Err(RoutingError::Overlap { slot: 0, first: 0, second: 1 }));
        let mut t = table();
        t.shards[2].slots = vec![SlotRange::new(10, 16384)];
        assert!(matches!(t.validate(), Err(RoutingError::OutOfRange { shard: 2, .. })));
        let mut t = table();
        t.shards[2].slots = vec![SlotRange::new(10, 9)];
        assert!(matches!(t.validate(), Err(RoutingError::OutOfRange { .. })));
        let mut t = table();
        t.shards[2].id = 0;
        assert_eq!(t.validate(), Err(RoutingError::DuplicateShard(0)));
        let mut t = table();
        t.shards[0].master.clear();
        assert_eq!(t.validate(), Err(RoutingError::NoMaster(0)));
    }

    #[test]
    fn the_json_form_is_stable() {
        let t = RoutingTable {
            epoch: 2,
            shards: vec![ShardRoute {
                id: 0,
                shard_epoch: 3,
                master: "h:7000".into(),
                replicas: vec![],
                slots: vec![SlotRange::new(0, 16383)],
            }],
        };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(
            json,
            r#"{"epoch":2,"shards":[{"id":0,"shard_epoch":3,"master":"h:7000","replicas":[],"slots":[{"start":0,"end":16383}]}]}"#
        );
        // A hand-written routing file may leave out shard_epoch and replicas.
        let minimal: RoutingTable = serde_json::from_str(
            r#"{"epoch":1,"shards":[{"id":0,"master":"h:1","slots":[{"start":0,"end":16383}]}]}"#,
        )
        .unwrap();
        assert_eq!(minimal.shards[0].shard_epoch, 0);
    }
}
