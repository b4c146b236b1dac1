//! Server commands: INFO, CONFIG, TIME, LASTSAVE, SAVE, BGSAVE, BGREWRITEAOF, MEMORY, SLOWLOG,
//! SHUTDOWN, DEBUG.
//!
//! Memory figures are estimates made the way Redis accounts memory (see [`key_memory`] and
//! [`State::used_memory`]); process figures (RSS, CPU time) come from `/proc`.

use std::fmt::Write as _;

use bytes::Bytes;
use protocol::ReplyWriter;

use super::{is, parse_int, spec, subcommand, Ctx, Handler};
use crate::error::{CmdError, CmdResult};
use crate::server::Server;
use crate::state::State;
use crate::value::{Value, EMBSTR_MAX};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("info", info),
    ("config", config),
    ("time", time),
    ("lastsave", lastsave),
    ("save", save),
    ("bgsave", bgsave),
    ("bgrewriteaof", bgrewriteaof),
    ("memory", memory),
    ("slowlog", slowlog),
    ("shutdown", shutdown),
    ("debug", debug),
];

/// Writes a HELP reply as Redis's `addReplyHelp`: a header naming `cmd`, the `lines`, then
/// the HELP entry, each as a simple string.
pub fn reply_help(out: &mut ReplyWriter, cmd: &str, lines: &[&str]) {
    out.array(lines.len() + 3);
    out.simple(&format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    for line in lines {
        out.simple(line);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}

// ---------------------------------------------------------------------------------------------
// Memory accounting

/// The allocation size the allocator really hands out for a request of `n` bytes: jemalloc's
/// size classes (8, 16, then steps of 16 up to 128, then four classes per power of two), which
/// is what Redis's `zmalloc_size` reports and so what MEMORY USAGE adds up.
pub fn alloc_size(n: usize) -> usize {
    if n <= 8 {
        8
    } else if n <= 128 {
        n.div_ceil(16) * 16
    } else {
        let step = n.next_power_of_two() / 8;
        n.div_ceil(step) * step
    }
}

/// Header bytes of a Redis sds string holding `len` bytes.
fn sds_header(len: usize) -> usize {
    match len {
        0..=255 => 3,
        256..=65535 => 5,
        65536..=0xffff_ffff => 9,
        _ => 17,
    }
}

/// Bytes one key costs, computed as Redis's MEMORY USAGE computes it: the key's sds string,
/// the value object (`robj` of 16 bytes; strings of 44 bytes or less share its allocation, the
/// `embstr` encoding; integers live inside it), and the 24-byte table entry, each allocation
/// rounded up to its size class. Types without a Redis-like formula yet count their heap bytes.
pub fn key_memory(key: &[u8], value: &Value) -> usize {
    const ROBJ: usize = 16;
    const DICT_ENTRY: usize = 24;
    let key_bytes = alloc_size(sds_header(key.len()) + key.len() + 1);
    #[allow(unreachable_patterns)]
    let value_bytes = match value {
        Value::Int(_) => ROBJ,
        Value::Str { data } if !data.is_raw() && data.len() <= EMBSTR_MAX => {
            alloc_size(ROBJ + 3 + data.len() + 1)
        }
        Value::Str { data, .. } => {
            let cap = data.capacity().max(data.len());
            ROBJ + alloc_size(sds_header(cap) + cap + 1)
        }
        other => ROBJ + other.heap_bytes(),
    };
    key_bytes + value_bytes + DICT_ENTRY
}

/// Memory of the dataset-independent part (INFO `used_memory_startup`).
const STARTUP_MEMORY: usize = 16384 * 32 + 256 * 1024;

/// Resident set size of this process, from `/proc/self/statm` (pages of 4 KiB).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<usize>().ok()))
        .map_or(0, |pages| pages * 4096)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        })
        .map_or(0, |kb| kb * 1024)
}

/// CPU seconds (user, system) of a `/proc/.../stat` file; with `children`, of waited-for
/// children. Clock ticks are 1/100 s on Linux.
fn cpu_times(path: &str, children: bool) -> (f64, f64) {
    let Ok(text) = std::fs::read_to_string(path) else { return (0.0, 0.0) };
    // Fields after the parenthesised command name: state is the first (field 3 of proc(5)).
    let Some(rest) = text.rfind(')').map(|i| &text[i + 1..]) else { return (0.0, 0.0) };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (u, s) = if children { (13, 14) } else { (11, 12) };
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(u) / 100.0, ticks(s) / 100.0)
}

/// Redis's `bytesToHuman`: `943.02K`, `6.26M`, `100B`.
fn human_bytes(n: u64) -> String {
    let n_f = n as f64;
    const UNITS: [(u64, &str); 5] =
        [(1 << 10, "K"), (1 << 20, "M"), (1 << 30, "G"), (1 << 40, "T"), (1 << 50, "P")];
    if n < 1024 {
        return format!("{n}B");
    }
    for (i, (unit, suffix)) in UNITS.iter().enumerate() {
        if i + 1 == UNITS.len() || n < UNITS[i + 1].0 {
            return format!("{:.2}{}", n_f / *unit as f64, suffix);
        }
    }
    format!("{n}B")
}

/// A figure derived once per process: "Linux <release> <arch>".
fn os_name() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{} {} {}", capitalized(std::env::consts::OS), release.trim(), std::env::consts::ARCH)
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

// ---------------------------------------------------------------------------------------------
// INFO

/// Sections INFO prints without arguments (or with `default`), as Redis 7.0.
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
];

fn info(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut sections: Vec<String> = Vec::new();
    let mut all = false;
    if args.len() == 1 {
        sections.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    for a in &args[1..] {
        let name = String::from_utf8_lossy(a).to_ascii_lowercase();
        match name.as_str() {
            "default" => sections.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string())),
            "all" | "everything" => all = true,
            _ => sections.push(name),
        }
    }
    let text = info_text(ctx.server, ctx.state, &sections, all, ctx.now_ms);
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// The INFO text for the chosen sections, in Redis's section order.
pub fn info_text(
    server: &Server,
    state: &mut State,
    sections: &[String],
    all: bool,
    now_ms: u64,
) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let want = |name: &str| all || sections.iter().any(|s| s == name);
    let mut out = String::with_capacity(4096);
    let mut count = 0;
    let mut begin = |out: &mut String, title: &str| {
        if count > 0 {
            out.push_str("\r\n");
        }
        count += 1;
        out.push_str("# ");
        out.push_str(title);
        out.push_str("\r\n");
    };
    macro_rules! field {
        ($out:expr, $name:expr, $value:expr) => {
            let _ = write!($out, "{}:{}\r\n", $name, $value);
        };
    }
    let config = server.config().clone();
    let clients = server.clients.all();
    let uptime = server.uptime().as_secs();

    if want("server") {
        begin(&mut out, "Server");
        field!(out, "redis_version", crate::REDIS_VERSION);
        field!(out, "redis_git_sha1", "00000000");
        field!(out, "redis_git_dirty", 0);
        field!(out, "redis_build_id", build_id());
        field!(out, "redis_mode", "standalone");
        field!(out, "os", os_name());
        field!(out, "arch_bits", usize::BITS);
        field!(out, "monotonic_clock", "POSIX clock_gettime");
        field!(out, "multiplexing_api", "epoll");
        field!(out, "atomicvar_api", "c11-builtin");
        field!(out, "gcc_version", "0.0.0");
        field!(out, "process_id", std::process::id());
        field!(out, "process_supervised", "no");
        field!(out, "run_id", server.run_id);
        field!(out, "tcp_port", server.port);
        field!(out, "server_time_usec", now_ms * 1000);
        field!(out, "uptime_in_seconds", uptime);
        field!(out, "uptime_in_days", uptime / 86400);
        field!(out, "hz", config.hz);
        field!(out, "configured_hz", config.hz);
        field!(out, "lru_clock", crate::time::lru_clock(now_ms));
        let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
        field!(out, "executable", exe);
        let file = config.config_file.as_ref().map(|p| p.display().to_string());
        field!(out, "config_file", file.unwrap_or_default());
        field!(out, "io_threads_active", 0);
    }
    if want("clients") {
        begin(&mut out, "Clients");
        let infos: Vec<_> = clients.iter().map(|c| c.info().clone()).collect();
        field!(out, "connected_clients", infos.iter().filter(|i| !i.replica).count());
        field!(out, "cluster_connections", 0);
        field!(out, "maxclients", config.maxclients);
        field!(
            out,
            "client_recent_max_input_buffer",
            infos.iter().map(|i| i.qbuf).max().unwrap_or(0)
        );
        field!(
            out,
            "client_recent_max_output_buffer",
            infos.iter().map(|i| i.omem).max().unwrap_or(0)
        );
        field!(out, "blocked_clients", infos.iter().filter(|i| i.blocked).count());
        field!(out, "tracking_clients", 0);
        field!(out, "clients_in_timeout_table", state.blocked.with_deadline());
    }
    if want("memory") {
        begin(&mut out, "Memory");
        let clients_mem: u64 = clients
            .iter()
            .map(|c| {
                let i = c.info();
                (i.qbuf + i.qbuf_free + i.rbs + i.omem) as u64
            })
            .sum();
        // What the allocator has handed out, when the counting allocator is installed (the
        // figure `maxmemory` is checked against); otherwise the per-key estimate.
        let used = match crate::alloc::allocated() {
            Some(bytes) => bytes as u64,
            None => state.used_memory() as u64 + clients_mem,
        };
        state.peak_memory = state.peak_memory.max(used as usize);
        let peak = state.peak_memory as u64;
        let rss = rss_bytes() as u64;
        let startup = STARTUP_MEMORY as u64;
        let overhead = startup + clients_mem;
        let dataset = used.saturating_sub(overhead);
        let system = total_system_memory();
        let maxmemory = config.get_i64("maxmemory").unwrap_or(0) as u64;
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        field!(out, "used_memory", used);
        field!(out, "used_memory_human", human_bytes(used));
        field!(out, "used_memory_rss", rss);
        field!(out, "used_memory_rss_human", human_bytes(rss));
        field!(out, "used_memory_peak", peak);
        field!(out, "used_memory_peak_human", human_bytes(peak));
        field!(out, "used_memory_peak_perc", format!("{:.2}%", ratio(used, peak) * 100.0));
        field!(out, "used_memory_overhead", overhead);
        field!(out, "used_memory_startup", startup);
        field!(out, "used_memory_dataset", dataset);
        let dataset_base = used.saturating_sub(startup);
        field!(
            out,
            "used_memory_dataset_perc",
            format!("{:.2}%", ratio(dataset, dataset_base) * 100.0)
        );
        field!(out, "allocator_allocated", used);
        field!(out, "allocator_active", used);
        field!(out, "allocator_resident", rss);
        field!(out, "total_system_memory", system);
        field!(out, "total_system_memory_human", human_bytes(system));
        for (name, value) in [
            ("used_memory_lua", "0"),
            ("used_memory_vm_eval", "0"),
            ("used_memory_lua_human", "0B"),
            ("used_memory_scripts_eval", "0"),
            ("number_of_cached_scripts", "0"),
            ("number_of_functions", "0"),
            ("number_of_libraries", "0"),
            ("used_memory_vm_functions", "0"),
            ("used_memory_vm_total", "0"),
            ("used_memory_vm_total_human", "0B"),
            ("used_memory_functions", "0"),
            ("used_memory_scripts", "0"),
            ("used_memory_scripts_human", "0B"),
        ] {
            field!(out, name, value);
        }
        field!(out, "maxmemory", maxmemory);
        field!(out, "maxmemory_human", human_bytes(maxmemory));
        field!(out, "maxmemory_policy", config.get("maxmemory-policy").unwrap_or_default());
        field!(out, "allocator_frag_ratio", "1.00");
        field!(out, "allocator_frag_bytes", 0);
        field!(out, "allocator_rss_ratio", format!("{:.2}", ratio(rss, used)));
        field!(out, "allocator_rss_bytes", rss as i64 - used as i64);
        field!(out, "rss_overhead_ratio", "1.00");
        field!(out, "rss_overhead_bytes", 0);
        field!(out, "mem_fragmentation_ratio", format!("{:.2}", ratio(rss, used)));
        field!(out, "mem_fragmentation_bytes", rss as i64 - used as i64);
        field!(out, "mem_not_counted_for_evict", 0);
        field!(out, "mem_replication_backlog", 0);
        field!(out, "mem_total_replication_buffers", 0);
        field!(out, "mem_clients_slaves", 0);
        field!(out, "mem_clients_normal", clients_mem);
        field!(out, "mem_cluster_links", 0);
        field!(out, "mem_aof_buffer", 0);
        field!(out, "mem_allocator", "libc");
        field!(out, "active_defrag_running", 0);
        field!(out, "lazyfree_pending_objects", 0);
        field!(out, "lazyfreed_objects", 0);
    }
    if want("persistence") {
        begin(&mut out, "Persistence");
        for (name, value) in [
            ("loading", "0"),
            ("async_loading", "0"),
            ("current_cow_peak", "0"),
            ("current_cow_size", "0"),
            ("current_cow_size_age", "0"),
            ("current_fork_perc", "0.00"),
            ("current_save_keys_processed", "0"),
            ("current_save_keys_total", "0"),
        ] {
            field!(out, name, value);
        }
        let p = server.persistence.info();
        let st = &p.stats;
        let ok = |b: bool| if b { "ok" } else { "err" };
        field!(out, "rdb_changes_since_last_save", state.dirty);
        field!(out, "rdb_bgsave_in_progress", p.bgsave_in_progress as u8);
        field!(out, "rdb_last_save_time", state.lastsave);
        field!(out, "rdb_last_bgsave_status", ok(st.last_bgsave_ok));
        field!(out, "rdb_last_bgsave_time_sec", st.last_bgsave_secs);
        field!(
            out,
            "rdb_current_bgsave_time_sec",
            if p.bgsave_in_progress { p.current_job_secs } else { -1 }
        );
        field!(out, "rdb_saves", st.rdb_saves);
        field!(out, "rdb_last_cow_size", 0);
        field!(out, "rdb_last_load_keys_expired", 0);
        field!(out, "rdb_last_load_keys_loaded", st.loaded_keys);
        field!(out, "aof_enabled", p.aof_enabled as u8);
        field!(out, "aof_rewrite_in_progress", p.rewrite_in_progress as u8);
        field!(out, "aof_rewrite_scheduled", st.rewrite_scheduled as u8);
        field!(out, "aof_last_rewrite_time_sec", st.last_rewrite_secs);
        field!(
            out,
            "aof_current_rewrite_time_sec",
            if p.rewrite_in_progress { p.current_job_secs } else { -1 }
        );
        field!(out, "aof_last_bgrewrite_status", ok(st.last_rewrite_ok));
        field!(out, "aof_rewrites", st.aof_rewrites);
        field!(out, "aof_rewrites_consecutive_failures", st.rewrite_failures_in_a_row);
        field!(out, "aof_last_write_status", ok(p.aof_write_error.is_none()));
        field!(out, "aof_last_cow_size", 0);
        field!(out, "module_fork_in_progress", 0);
        field!(out, "module_fork_last_cow_size", 0);
        if p.aof_enabled {
            field!(out, "aof_current_size", p.aof_current_size);
            field!(out, "aof_base_size", p.aof_base_size);
            field!(out, "aof_pending_rewrite", st.rewrite_scheduled as u8);
            field!(out, "aof_buffer_length", p.aof_buffer_length);
            field!(out, "aof_pending_bio_fsync", 0);
            field!(out, "aof_delayed_fsync", 0);
        }
    }
    if want("stats") {
        begin(&mut out, "Stats");
        let net = &server.net;
        let (ops, input, output) = server.rates.lock().map(|r| r.current()).unwrap_or_default();
        let s = &state.stats;
        field!(out, "total_connections_received", net.connections_received.load(Relaxed));
        field!(out, "total_commands_processed", s.total_commands);
        field!(out, "instantaneous_ops_per_sec", ops);
        field!(out, "total_net_input_bytes", net.net_input_bytes.load(Relaxed));
        field!(out, "total_net_output_bytes", net.net_output_bytes.load(Relaxed));
        field!(out, "total_net_repl_input_bytes", 0);
        field!(out, "total_net_repl_output_bytes", 0);
        field!(out, "instantaneous_input_kbps", format!("{:.2}", input as f64 / 1024.0));
        field!(out, "instantaneous_output_kbps", format!("{:.2}", output as f64 / 1024.0));
        field!(out, "instantaneous_input_repl_kbps", "0.00");
        field!(out, "instantaneous_output_repl_kbps", "0.00");
        field!(out, "rejected_connections", net.rejected_connections.load(Relaxed));
        let repl = &server.replication;
        field!(out, "sync_full", repl.sync_full.load(Relaxed));
        field!(out, "sync_partial_ok", repl.sync_partial_ok.load(Relaxed));
        field!(out, "sync_partial_err", repl.sync_partial_err.load(Relaxed));
        field!(out, "expired_keys", s.expired_keys);
        field!(out, "expired_stale_perc", "0.00");
        field!(out, "expired_time_cap_reached_count", 0);
        field!(out, "expire_cycle_cpu_milliseconds", 0);
        field!(out, "evicted_keys", s.evicted_keys);
        field!(out, "evicted_clients", 0);
        field!(out, "total_eviction_exceeded_time", 0);
        field!(out, "current_eviction_exceeded_time", 0);
        field!(out, "keyspace_hits", s.keyspace_hits);
        field!(out, "keyspace_misses", s.keyspace_misses);
        field!(out, "pubsub_channels", state.pubsub.channel_count(crate::pubsub::Kind::Channel));
        field!(out, "pubsub_patterns", state.pubsub.pattern_count());
        field!(out, "pubsubshard_channels", state.pubsub.channel_count(crate::pubsub::Kind::Shard));
        let forks = server.persistence.fork_stats();
        field!(out, "latest_fork_usec", forks.0);
        field!(out, "total_forks", forks.1);
        for name in [
            "migrate_cached_sockets",
            "slave_expires_tracked_keys",
            "active_defrag_hits",
            "active_defrag_misses",
            "active_defrag_key_hits",
            "active_defrag_key_misses",
            "total_active_defrag_time",
            "current_active_defrag_time",
            "tracking_total_keys",
            "tracking_total_items",
            "tracking_total_prefixes",
            "unexpected_error_replies",
        ] {
            field!(out, name, 0);
        }
        field!(out, "total_error_replies", s.total_error_replies);
        field!(out, "dump_payload_sanitizations", 0);
        field!(out, "total_reads_processed", net.reads_processed.load(Relaxed));
        field!(out, "total_writes_processed", net.writes_processed.load(Relaxed));
        for name in [
            "io_threaded_reads_processed",
            "io_threaded_writes_processed",
            "reply_buffer_shrinks",
            "reply_buffer_expands",
        ] {
            field!(out, name, 0);
        }
    }
    if want("replication") {
        begin(&mut out, "Replication");
        crate::replication::write_info(server, &mut out);
    }
    if want("cpu") {
        begin(&mut out, "CPU");
        let (user, sys) = cpu_times("/proc/self/stat", false);
        let (cuser, csys) = cpu_times("/proc/self/stat", true);
        let main = format!("/proc/self/task/{}/stat", std::process::id());
        let (muser, msys) = cpu_times(&main, false);
        field!(out, "used_cpu_sys", format!("{sys:.6}"));
        field!(out, "used_cpu_user", format!("{user:.6}"));
        field!(out, "used_cpu_sys_children", format!("{csys:.6}"));
        field!(out, "used_cpu_user_children", format!("{cuser:.6}"));
        field!(out, "used_cpu_sys_main_thread", format!("{msys:.6}"));
        field!(out, "used_cpu_user_main_thread", format!("{muser:.6}"));
    }
    if want("module_list") || want("modules") {
        begin(&mut out, "Modules");
    }
    if want("commandstats") {
        begin(&mut out, "Commandstats");
        let mut names: Vec<_> = state.stats.per_command.iter().collect();
        names.sort_by_key(|(name, _)| **name);
        for (name, c) in names {
            if c.calls == 0 && c.failed_calls == 0 && c.rejected_calls == 0 {
                continue;
            }
            let per_call = if c.calls == 0 { 0.0 } else { c.usec as f64 / c.calls as f64 };
            let _ = write!(
                out,
                "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                info_safe(name),
                c.calls,
                c.usec,
                per_call,
                c.rejected_calls,
                c.failed_calls
            );
        }
    }
    if want("errorstats") {
        begin(&mut out, "Errorstats");
        for (code, count) in &state.stats.errors {
            let _ = write!(out, "errorstat_{}:count={}\r\n", info_safe(code), count);
        }
    }
    if want("latencystats") {
        // Per-command latency histograms are not kept; the section is present but empty.
        begin(&mut out, "Latencystats");
    }
    if want("cluster") {
        begin(&mut out, "Cluster");
        field!(out, "cluster_enabled", 0);
    }
    if want("keyspace") {
        begin(&mut out, "Keyspace");
        let (keys, expires) = (state.keyspace.len(), state.keyspace.volatile_len());
        if keys > 0 || expires > 0 {
            let _ = write!(out, "db0:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
    }
    out
}

/// Redis replaces characters that would break INFO's `name:value` lines.
fn info_safe(s: &str) -> String {
    s.chars().map(|c| if matches!(c, '#' | ':' | '\n' | '\r') { '_' } else { c }).collect()
}

/// A stable 16-hex-digit id of this build (INFO `redis_build_id`).
fn build_id() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in concat!(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")).bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

// ---------------------------------------------------------------------------------------------
// CONFIG

fn config(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = subcommand(spec("config"), args)?;
    match sub.name {
        "config|get" => {
            let patterns: Vec<String> =
                args[2..].iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
            let found = ctx.server.config().matching(&patterns);
            ctx.out.map(found.len());
            for (name, value) in found {
                ctx.out.bulk(name.as_bytes());
                ctx.out.bulk(value.as_bytes());
            }
        }
        "config|set" => {
            if args.len() % 2 == 1 {
                return Err(CmdError::Syntax);
            }
            let text: Vec<String> =
                args[2..].iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            let pairs: Vec<(&str, &str)> =
                text.chunks(2).map(|p| (p[0].as_str(), p[1].as_str())).collect();
            let local = ctx.client.handle.addr.ip().is_loopback();
            let aof_on = ctx.server.persistence.aof_enabled();
            for (name, value) in &pairs {
                if name.eq_ignore_ascii_case("appendonly")
                    && value.eq_ignore_ascii_case("yes") != aof_on
                {
                    // Switching the AOF on or off while serving is not supported yet.
                    return Err(CmdError::err(
                        "CONFIG SET failed (possibly related to argument 'appendonly') - \
                         the AOF is switched on or off at start-up (--appendonly yes|no)",
                    ));
                }
            }
            ctx.server.update_config(|c| c.set_many(&pairs, local)).map_err(CmdError::Other)?;
            ctx.state.configure(&ctx.server.config());
            let fsync = ctx.server.config().get("appendfsync").unwrap_or_default();
            ctx.server.persistence.set_fsync(crate::persist::aof::Fsync::parse(&fsync));
            // A shorter slow log takes effect at once.
            let max_len = ctx.server.config().slowlog_max_len;
            ctx.state.slowlog.entries.truncate(max_len);
            ctx.out.ok();
        }
        "config|resetstat" => {
            ctx.state.stats = Default::default();
            ctx.server.net.reset();
            ctx.state.peak_memory = 0;
            ctx.out.ok();
        }
        "config|rewrite" => {
            ctx.server.config().rewrite().map_err(CmdError::Other)?;
            ctx.out.ok();
        }
        "config|help" => reply_help(ctx.out, "CONFIG", CONFIG_HELP),
        _ => return Err(super::unknown_subcommand("config", &args[1])),
    }
    Ok(())
}

const CONFIG_HELP: &[&str] = &[
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
];

// ---------------------------------------------------------------------------------------------
// TIME, LASTSAVE

fn time(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let us = crate::time::unix_us();
    ctx.out.array(2);
    ctx.out.bulk_integer((us / 1_000_000) as i64);
    ctx.out.bulk_integer((us % 1_000_000) as i64);
    Ok(())
}

fn lastsave(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.integer(ctx.state.lastsave as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SAVE, BGSAVE, BGREWRITEAOF

fn save(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.server.persistence.save(ctx.server, ctx.state).map_err(CmdError::Other)?;
    ctx.out.ok();
    Ok(())
}

fn bgsave(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let schedule = match args.get(1) {
        None => false,
        Some(a) if is(a, "schedule") && args.len() == 2 => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    let persistence = &ctx.server.persistence;
    match persistence.bgsave(ctx.server, ctx.state) {
        Ok(()) => ctx.out.simple("Background saving started"),
        Err(e) if schedule && persistence.rewrite_in_progress() => {
            drop(e);
            persistence.schedule_bgsave();
            ctx.out.simple("Background saving scheduled");
        }
        Err(e) => return Err(CmdError::Other(e)),
    }
    Ok(())
}

fn bgrewriteaof(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let started =
        ctx.server.persistence.bgrewriteaof(ctx.server, ctx.state).map_err(CmdError::Other)?;
    ctx.out.simple(if started {
        "Background append only file rewriting started"
    } else {
        "Background append only file rewriting scheduled"
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// MEMORY

fn memory(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = subcommand(spec("memory"), args)?;
    match sub.name {
        "memory|usage" => {
            let mut i = 3;
            while i < args.len() {
                if is(&args[i], "samples") && i + 1 < args.len() {
                    // Nested values are sampled in Redis; sizes here are exact, so the count
                    // is only validated.
                    if parse_int(&args[i + 1])? < 0 {
                        return Err(CmdError::Syntax);
                    }
                    i += 2;
                } else {
                    return Err(CmdError::Syntax);
                }
            }
            // Like Redis, a key that has expired but was not yet removed still counts.
            match ctx.state.keyspace.peek(&args[2], 0) {
                Some(entry) => ctx.out.integer(key_memory(&args[2], &entry.value) as i64),
                None => ctx.out.null(),
            }
        }
        "memory|stats" => memory_stats(ctx),
        "memory|doctor" => {
            let text = memory_doctor(ctx.state);
            ctx.out.verbatim("txt", text.as_bytes());
        }
        "memory|malloc-stats" => {
            ctx.out.verbatim("txt", b"Stats not supported for the current allocator");
        }
        "memory|purge" => ctx.out.ok(),
        "memory|help" => reply_help(ctx.out, "MEMORY", MEMORY_HELP),
        _ => return Err(super::unknown_subcommand("memory", &args[1])),
    }
    Ok(())
}

fn memory_stats(ctx: &mut Ctx) {
    let used = ctx.state.used_memory() as i64;
    let peak = (ctx.state.peak_memory as i64).max(used);
    let rss = rss_bytes() as i64;
    let startup = STARTUP_MEMORY as i64;
    let clients: i64 = ctx
        .server
        .clients
        .all()
        .iter()
        .map(|c| {
            let i = c.info();
            (i.qbuf + i.qbuf_free + i.rbs + i.omem) as i64
        })
        .sum();
    let keys = ctx.state.keyspace.len() as i64;
    let expires = ctx.state.keyspace.volatile_len() as i64;
    let main_table = keys.max(1).next_power_of_two_i64() * 8;
    let expires_table = if expires > 0 { expires.next_power_of_two_i64() * 8 } else { 0 };
    let overhead = startup + clients + main_table + expires_table;
    let dataset = (used - overhead).max(0);
    let pct = |a: i64, b: i64| if b <= 0 { 0.0 } else { a as f64 * 100.0 / b as f64 };
    let ratio = |a: i64, b: i64| if b <= 0 { 0.0 } else { a as f64 / b as f64 };
    let db = keys > 0 || expires > 0;
    let out = &mut *ctx.out;
    out.map(27 + db as usize);
    let int = |out: &mut ReplyWriter, name: &str, v: i64| {
        out.bulk(name.as_bytes());
        out.integer(v);
    };
    int(out, "peak.allocated", peak);
    int(out, "total.allocated", used);
    int(out, "startup.allocated", startup);
    int(out, "replication.backlog", 0);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", clients);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", 0);
    int(out, "lua.caches", 0);
    int(out, "functions.caches", 0);
    if db {
        out.bulk(b"db.0");
        out.map(3);
        int(out, "overhead.hashtable.main", main_table);
        int(out, "overhead.hashtable.expires", expires_table);
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", overhead);
    int(out, "keys.count", keys);
    int(out, "keys.bytes-per-key", if keys > 0 { (used - startup) / keys } else { 0 });
    int(out, "dataset.bytes", dataset);
    out.bulk(b"dataset.percentage");
    out.double(pct(dataset, used - startup));
    out.bulk(b"peak.percentage");
    out.double(pct(used, peak));
    int(out, "allocator.allocated", used);
    int(out, "allocator.active", used);
    int(out, "allocator.resident", rss);
    out.bulk(b"allocator-fragmentation.ratio");
    out.double(1.0);
    int(out, "allocator-fragmentation.bytes", 0);
    out.bulk(b"allocator-rss.ratio");
    out.double(ratio(rss, used));
    int(out, "allocator-rss.bytes", rss - used);
    out.bulk(b"rss-overhead.ratio");
    out.double(1.0);
    int(out, "rss-overhead.bytes", 0);
    out.bulk(b"fragmentation");
    out.double(ratio(rss, used));
    int(out, "fragmentation.bytes", rss - used);
}

trait NextPow2 {
    fn next_power_of_two_i64(self) -> i64;
}

impl NextPow2 for i64 {
    fn next_power_of_two_i64(self) -> i64 {
        (self.max(1) as u64).next_power_of_two() as i64
    }
}

/// MEMORY DOCTOR, with Redis's texts for the checks that apply here.
fn memory_doctor(state: &mut State) -> String {
    let used = state.used_memory();
    if used < 5 * 1024 * 1024 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".into();
    }
    let mut issues = String::new();
    if state.peak_memory as f64 / used as f64 > 1.5 {
        issues.push_str(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
    }
    let rss = rss_bytes();
    if rss as f64 / used as f64 > 1.4 && rss.saturating_sub(used) > 10 << 20 {
        issues.push_str(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n");
    }
    if issues.is_empty() {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".into()
    } else {
        format!("Sam, I detected a few issues in this Redis instance memory implants:\n\n{issues}I'm here to keep you safe, Sam. I want to help you.\n")
    }
}

const MEMORY_HELP: &[&str] = &[
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
];

// ---------------------------------------------------------------------------------------------
// SLOWLOG

fn slowlog(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = subcommand(spec("slowlog"), args)?;
    match sub.name {
        "slowlog|get" => {
            let mut count = 10usize;
            if args.len() == 3 {
                let n = protocol::number::parse_i64(&args[2])
                    .filter(|&n| n >= -1)
                    .ok_or_else(|| CmdError::err("count should be greater than or equal to -1"))?;
                count = if n == -1 { usize::MAX } else { n as usize };
            }
            let entries: Vec<_> = ctx.state.slowlog.entries.iter().take(count).collect();
            let out = &mut *ctx.out;
            out.array(entries.len());
            for e in entries {
                out.array(6);
                out.integer(e.id as i64);
                out.integer(e.unix_secs as i64);
                out.integer(e.micros as i64);
                out.array(e.args.len());
                for a in &e.args {
                    out.bulk(a);
                }
                out.bulk(e.peer.as_bytes());
                out.bulk(e.client_name.as_bytes());
            }
        }
        "slowlog|len" => ctx.out.integer(ctx.state.slowlog.entries.len() as i64),
        "slowlog|reset" => {
            ctx.state.slowlog.entries.clear();
            ctx.out.ok();
        }
        "slowlog|help" => reply_help(ctx.out, "SLOWLOG", SLOWLOG_HELP),
        _ => return Err(super::unknown_subcommand("slowlog", &args[1])),
    }
    Ok(())
}

const SLOWLOG_HELP: &[&str] = &[
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
];

// ---------------------------------------------------------------------------------------------
// SHUTDOWN

fn shutdown(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (mut save, mut nosave, mut other_flag, mut abort) = (false, false, false, false);
    for a in &args[1..] {
        if is(a, "nosave") {
            nosave = true;
        } else if is(a, "save") {
            save = true;
        } else if is(a, "now") || is(a, "force") {
            other_flag = true;
        } else if is(a, "abort") {
            abort = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if (abort && (save || nosave || other_flag)) || (save && nosave) {
        return Err(CmdError::Syntax);
    }
    if abort {
        // Shutdown here does not wait for replicas, so there is never one to abort.
        return Err(CmdError::err("No shutdown in progress."));
    }
    ctx.server.shutdown_saving(if save {
        crate::persist::ShutdownSave::Save
    } else if nosave {
        crate::persist::ShutdownSave::NoSave
    } else {
        crate::persist::ShutdownSave::Default
    });
    // Redis closes the connection without replying when it shuts down.
    ctx.client.close_now = true;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// DEBUG

fn debug(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let allowed = match ctx.server.config().get("enable-debug-command").as_deref() {
        Some("yes") => true,
        Some("local") => ctx.client.handle.addr.ip().is_loopback(),
        _ => false,
    };
    if !allowed {
        return Err(CmdError::err(
            "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ));
    }
    let sub = &args[1];
    if is(sub, "help") && args.len() == 2 {
        reply_help(ctx.out, "DEBUG", DEBUG_HELP);
    } else if is(sub, "sleep") && args.len() == 3 {
        // Like Redis, the whole server stops: the command lock is held while sleeping.
        let secs = strtod_prefix(&args[2]);
        if secs > 0.0 {
            std::thread::sleep(
                std::time::Duration::try_from_secs_f64(secs).unwrap_or(std::time::Duration::MAX),
            );
        }
        ctx.out.ok();
    } else if is(sub, "set-active-expire") && args.len() == 3 {
        let on = atoi(&args[2]) != 0;
        ctx.server.update_config(|c| c.active_expire = on);
        ctx.out.ok();
    } else if is(sub, "digest") && args.len() == 2 {
        ctx.out.simple(&crate::digest::hex(&crate::digest::dataset(&ctx.state.keyspace)));
    } else if is(sub, "digest-value") {
        ctx.out.array(args.len() - 2);
        for key in &args[2..] {
            ctx.out.simple(&crate::digest::hex(&crate::digest::value(&ctx.state.keyspace, key)));
        }
    } else if is(sub, "error") && args.len() == 3 {
        let text = String::from_utf8_lossy(&args[2]);
        // Sent as given (a leading `-` dropped), without adding an `ERR` code.
        return Err(CmdError::Other(text.strip_prefix('-').unwrap_or(&text).to_string()));
    } else {
        return Err(CmdError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(sub)
        )));
    }
    Ok(())
}

/// C's `strtod` on a prefix: the longest leading number, 0 when there is none.
fn strtod_prefix(arg: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(arg);
    let s = s.trim_start();
    (1..=s.len())
        .rev()
        .filter(|&n| s.is_char_boundary(n))
        .find_map(|n| s[..n].parse::<f64>().ok())
        .filter(|v| !v.is_nan())
        .unwrap_or(0.0)
}

/// C's `atoi`: optional sign and leading digits, 0 when there are none.
fn atoi(arg: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(arg);
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |n, d| n.wrapping_mul(10).wrapping_add((d - b'0') as i64));
    if neg {
        -n
    } else {
        n
    }
}

const DEBUG_HELP: &[&str] = &[
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "MALLCTL <key> [<val>]",
    "    Get or set a malloc tuning integer.",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a malloc tuning string.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocator_size_classes() {
        assert_eq!(alloc_size(7), 8);
        assert_eq!(alloc_size(23), 32);
        assert_eq!(alloc_size(49), 64);
        assert_eq!(alloc_size(129), 160);
        assert_eq!(alloc_size(1006), 1024);
        assert_eq!(alloc_size(1025), 1280);
    }

    #[test]
    fn key_memory_matches_redis_for_strings() {
        // Figures from MEMORY USAGE on redis-server 7.0.15.
        assert_eq!(key_memory(b"foo", &Value::string(b"bar")), 64);
        assert_eq!(key_memory(b"foo", &Value::string(b"123")), 48);
        assert_eq!(key_memory(b"k12345678901234567890", &Value::string(&[b'a'; 44])), 120);
        assert_eq!(key_memory(b"foo", &Value::string(&[b'a'; 45])), 112);
        assert_eq!(key_memory(b"big", &Value::string(&[b'a'; 1000])), 1072);
    }

    #[test]
    fn human_bytes_like_redis() {
        assert_eq!(human_bytes(100), "100B");
        assert_eq!(human_bytes(965656), "943.02K");
        assert_eq!(human_bytes(6561792), "6.26M");
        assert_eq!(human_bytes(3 << 30), "3.00G");
    }

    #[test]
    fn c_number_prefixes() {
        assert_eq!(strtod_prefix(b"0.5"), 0.5);
        assert_eq!(strtod_prefix(b"x"), 0.0);
        assert_eq!(strtod_prefix(b"1.5s"), 1.5);
        assert_eq!(atoi(b"12x"), 12);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(atoi(b"-3"), -3);
    }
}
