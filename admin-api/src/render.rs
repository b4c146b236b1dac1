//! The text `rcluster admin` prints: aligned, borderless tables (like `kubectl get`), as pure
//! functions of the views so they are tested without a server.

use comfy_table::{presets, ContentArrangement, Table};
use protocol::routing::SlotRange;

use crate::types::{
    ClusterCreated, ClusterState, ClusterView, FailoverResponse, NodeRole, NodeView, ProxyView,
    RaftView, ShardView,
};

/// `rcluster admin status`: state, epoch and plan, the shards, the proxies, the Raft leader.
pub fn render_status(view: &ClusterView) -> String {
    let mut out = format!(
        "cluster: {}   epoch: {}   plan: {}\n",
        state_name(view.state),
        view.epoch,
        view.plan.as_deref().unwrap_or("-"),
    );
    out.push_str(&format!("raft: {}\n", raft_summary(&view.raft)));
    let healthy_proxies = view.proxies.iter().filter(|p| p.healthy).count();
    out.push_str(&format!(
        "nodes: {}   proxies: {healthy_proxies}/{} healthy\n",
        view.nodes.len(),
        view.proxies.len()
    ));
    if view.shards.is_empty() {
        out.push_str("\nno shards yet: create the cluster with `rcluster admin init`\n");
    } else {
        out.push('\n');
        out.push_str(&render_shards(&view.shards));
    }
    if !view.proxies.is_empty() {
        out.push('\n');
        out.push_str(&render_proxies(&view.proxies));
    }
    out
}

/// `rcluster admin shards`: one row per shard. Replicas are marked `in-sync`, `lagging` (out
/// of the in-sync set) or `down`.
pub fn render_shards(shards: &[ShardView]) -> String {
    let mut table =
        table(["SHARD", "EPOCH", "MASTER", "REPLICAS", "SLOTS", "COUNT", "MEMORY", "HEALTH"]);
    for shard in shards {
        let master = node_label(shard.master.id, &shard.master.addr, shard.master.healthy);
        let replicas = if shard.replicas.is_empty() {
            "-".to_string()
        } else {
            shard
                .replicas
                .iter()
                .map(|r| {
                    let mark = match (r.healthy, r.in_sync) {
                        (false, _) => "down",
                        (true, true) => "in-sync",
                        (true, false) => "lagging",
                    };
                    format!("#{} {} [{mark}]", r.id, r.addr)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        table.add_row([
            shard.id.to_string(),
            shard.shard_epoch.to_string(),
            master,
            replicas,
            ranges(&shard.slots),
            shard.slot_count.to_string(),
            bytes(shard.maxmemory),
            if shard.healthy { "ok" } else { "DOWN" }.to_string(),
        ]);
    }
    finish(table)
}

/// `rcluster admin nodes`: one row per partition server.
pub fn render_nodes(nodes: &[NodeView]) -> String {
    let mut table = table([
        "ID",
        "ADDR",
        "SHARD",
        "ROLE",
        "HEALTH",
        "LAST HEARTBEAT",
        "OFFSET",
        "MEMORY",
        "KEYS",
    ]);
    for node in nodes {
        table.add_row([
            node.id.to_string(),
            node.addr.clone(),
            node.shard.map_or("-".to_string(), |s| s.to_string()),
            role_name(node.role).to_string(),
            health(node.healthy).to_string(),
            ago(node.last_heartbeat_ms_ago),
            node.offset.to_string(),
            bytes(node.used_memory),
            node.keys.to_string(),
        ]);
    }
    finish(table)
}

/// The proxies of a [`ClusterView`].
pub fn render_proxies(proxies: &[ProxyView]) -> String {
    let mut table = table(["PROXY", "ADDR", "HEALTH", "LAST HEARTBEAT", "EPOCH"]);
    for proxy in proxies {
        table.add_row([
            proxy.id.to_string(),
            proxy.addr.clone(),
            health(proxy.healthy).to_string(),
            ago(proxy.last_heartbeat_ms_ago),
            proxy.epoch.to_string(),
        ]);
    }
    finish(table)
}

/// `rcluster admin slots`: slot ranges in slot order, each with its shard and master.
pub fn render_slots(shards: &[ShardView]) -> String {
    let mut rows: Vec<(SlotRange, &ShardView)> =
        shards.iter().flat_map(|s| s.slots.iter().map(move |r| (*r, s))).collect();
    rows.sort_by_key(|(range, _)| range.start);
    let mut table = table(["SLOTS", "COUNT", "SHARD", "MASTER"]);
    for (range, shard) in rows {
        table.add_row([
            range_text(range),
            range.len().to_string(),
            shard.id.to_string(),
            node_label(shard.master.id, &shard.master.addr, shard.master.healthy),
        ]);
    }
    finish(table)
}

/// `rcluster admin raft`: the answering node's view of the group, and its members.
pub fn render_raft(raft: &RaftView) -> String {
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    let mut out = format!(
        "node: {}   {}   last log index: {}   last applied: {}\n\n",
        raft.id,
        raft_summary(raft),
        opt(raft.last_log_index),
        opt(raft.last_applied),
    );
    let mut table = table(["ID", "ADDR", "VOTER", "ROLE"]);
    for member in &raft.members {
        table.add_row([
            member.id.to_string(),
            member.addr.clone(),
            if member.voter { "yes" } else { "no (learner)" }.to_string(),
            if raft.leader == Some(member.id) { "leader" } else { "follower" }.to_string(),
        ]);
    }
    out.push_str(&finish(table));
    out
}

/// `rcluster admin failover`.
pub fn render_failover(resp: &FailoverResponse) -> String {
    let mut out = format!(
        "shard {}: node {} is now the master (shard_epoch {}, epoch {})\n",
        resp.shard, resp.new_master, resp.shard_epoch, resp.epoch
    );
    if resp.lossy {
        out.push_str(
            "warning: the promoted replica was not in sync; acknowledged writes may be lost\n",
        );
    }
    out
}

/// `rcluster admin init`.
pub fn render_created(created: &ClusterCreated) -> String {
    format!(
        "cluster created: {} shards, epoch {}\n\n{}",
        created.shards.len(),
        created.epoch,
        render_shards(&created.shards)
    )
}

fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        // Never wrap: the output is read by people and by grep alike.
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header);
    table
}

fn finish(mut table: Table) -> String {
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let mut text = table.trim_fmt();
    text.push('\n');
    text
}

fn raft_summary(raft: &RaftView) -> String {
    let leader = raft.leader.map_or("none".to_string(), |id| {
        match raft.members.iter().find(|m| m.id == id) {
            Some(m) => format!("{id} ({})", m.addr),
            None => id.to_string(),
        }
    });
    format!("leader: {leader}   term: {}", raft.term)
}

fn node_label(id: u64, addr: &str, healthy: bool) -> String {
    if healthy {
        format!("#{id} {addr}")
    } else {
        format!("#{id} {addr} [down]")
    }
}

fn ranges(slots: &[SlotRange]) -> String {
    if slots.is_empty() {
        return "-".to_string();
    }
    slots.iter().map(|r| range_text(*r)).collect::<Vec<_>>().join(",")
}

/// Always `start-end`, even for one slot, so a column of ranges reads uniformly.
fn range_text(range: SlotRange) -> String {
    format!("{}-{}", range.start, range.end)
}

fn state_name(state: ClusterState) -> &'static str {
    match state {
        ClusterState::Empty => "empty",
        ClusterState::Healthy => "healthy",
        ClusterState::Degraded => "DEGRADED",
        ClusterState::Unavailable => "UNAVAILABLE",
    }
}

fn role_name(role: NodeRole) -> &'static str {
    match role {
        NodeRole::Master => "master",
        NodeRole::Replica => "replica",
        NodeRole::Unassigned => "unassigned",
    }
}

fn health(healthy: bool) -> &'static str {
    if healthy {
        "ok"
    } else {
        "DOWN"
    }
}

fn ago(ms: Option<u64>) -> String {
    match ms {
        None => "never".to_string(),
        Some(ms) if ms < 10_000 => format!("{ms} ms ago"),
        Some(ms) => format!("{} s ago", ms / 1000),
    }
}

/// Bytes in binary units, `0` as `-` (no limit / nothing).
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if n == 0 {
        return "-".to_string();
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{NodeRef, RaftMember, ReplicaView, GB};

    fn view() -> ClusterView {
        let shard = |id: u32, m: u64, r: u64, slots: SlotRange, r_in_sync: bool| ShardView {
            id,
            shard_epoch: 1,
            master: NodeRef { id: m, addr: format!("10.0.0.{m}:7000"), healthy: true },
            replicas: vec![ReplicaView {
                id: r,
                addr: format!("10.0.0.{r}:7000"),
                healthy: true,
                in_sync: r_in_sync,
                offset: 10,
                link_up: true,
            }],
            maxmemory: 2 * GB,
            slots: vec![slots],
            slot_count: slots.len(),
            healthy: true,
        };
        ClusterView {
            epoch: 7,
            state: ClusterState::Degraded,
            plan: Some("16GB".into()),
            shards: vec![
                shard(0, 1, 2, SlotRange::new(0, 8191), true),
                shard(1, 3, 4, SlotRange::new(8192, 16383), false),
            ],
            nodes: vec![NodeView {
                id: 1,
                addr: "10.0.0.1:7000".into(),
                shard: Some(0),
                role: NodeRole::Master,
                healthy: true,
                last_heartbeat_ms_ago: Some(40),
                offset: 10,
                used_memory: 3 << 20,
                keys: 5,
            }],
            proxies: vec![ProxyView {
                id: 0,
                addr: "10.0.1.1:6379".into(),
                healthy: true,
                last_heartbeat_ms_ago: None,
                epoch: 7,
            }],
            raft: RaftView {
                id: 2,
                leader: Some(1),
                term: 3,
                last_log_index: Some(12),
                last_applied: Some(12),
                members: vec![
                    RaftMember { id: 1, addr: "10.0.2.1:9000".into(), voter: true },
                    RaftMember { id: 2, addr: "10.0.2.2:9000".into(), voter: true },
                ],
            },
        }
    }

    /// The line of `text` that starts with `first` (columns separated by runs of spaces).
    fn must_find_row<'a>(text: &'a str, first: &str) -> Vec<&'a str> {
        text.lines()
            .map(|l| l.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect::<Vec<_>>())
            .find(|cells| cells.first() == Some(&first))
            .unwrap_or_else(|| panic!("no row starting with {first:?} in\n{text}"))
    }

    #[test]
    fn status_shows_the_cluster() {
        let text = render_status(&view());
        assert!(text.starts_with("cluster: DEGRADED   epoch: 7   plan: 16GB\n"), "{text}");
        assert!(text.contains("raft: leader: 1 (10.0.2.1:9000)   term: 3"), "{text}");
        assert!(text.contains("proxies: 1/1 healthy"), "{text}");
        let header = must_find_row(&text, "SHARD");
        assert_eq!(
            header,
            ["SHARD", "EPOCH", "MASTER", "REPLICAS", "SLOTS", "COUNT", "MEMORY", "HEALTH"]
        );
        assert_eq!(
            must_find_row(&text, "0"),
            [
                "0",
                "1",
                "#1 10.0.0.1:7000",
                "#2 10.0.0.2:7000 [in-sync]",
                "0-8191",
                "8192",
                "2 GiB",
                "ok"
            ]
        );
        assert_eq!(must_find_row(&text, "1")[3], "#4 10.0.0.4:7000 [lagging]");
        assert_eq!(
            must_find_row(&text, "PROXY"),
            ["PROXY", "ADDR", "HEALTH", "LAST HEARTBEAT", "EPOCH"]
        );
    }

    #[test]
    fn columns_are_aligned() {
        let text = render_shards(&view().shards);
        let lines: Vec<&str> = text.lines().collect();
        let col = |line: &str| line.find("#").unwrap();
        assert_eq!(col(lines[1]), col(lines[2]), "{text}");
        assert_eq!(lines[0].find("MASTER").unwrap(), col(lines[1]), "{text}");
    }

    #[test]
    fn an_empty_cluster_says_how_to_create_it() {
        let mut v = view();
        v.state = ClusterState::Empty;
        v.shards.clear();
        assert!(render_status(&v).contains("rcluster admin init"));
    }

    #[test]
    fn nodes_slots_raft_and_failover() {
        let v = view();
        let nodes = render_nodes(&v.nodes);
        assert_eq!(
            must_find_row(&nodes, "1"),
            ["1", "10.0.0.1:7000", "0", "master", "ok", "40 ms ago", "10", "3 MiB", "5"]
        );
        let slots = render_slots(&[v.shards[1].clone(), v.shards[0].clone()]);
        let rows: Vec<&str> = slots.lines().skip(1).collect();
        assert!(rows[0].starts_with("0-8191"), "{slots}");
        assert_eq!(
            must_find_row(&slots, "8192-16383"),
            ["8192-16383", "8192", "1", "#3 10.0.0.3:7000"]
        );
        let raft = render_raft(&v.raft);
        assert_eq!(must_find_row(&raft, "1"), ["1", "10.0.2.1:9000", "yes", "leader"]);
        assert_eq!(must_find_row(&raft, "2")[3], "follower");
        let failover =
            FailoverResponse { shard: 0, new_master: 2, shard_epoch: 2, epoch: 8, lossy: true };
        let text = render_failover(&failover);
        assert!(text.contains("node 2 is now the master"), "{text}");
        assert!(text.contains("may be lost"), "{text}");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(bytes(0), "-");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(16 * GB), "16 GiB");
    }
}
