//! The proxy's Prometheus metrics (served by [`crate::ops`] on `--metrics-port`).
//!
//! Counters and histograms are updated as events happen, on the hot path, so each update is a
//! few relaxed atomic additions and nothing else: a command's metrics are found by its
//! position in `protocol`'s command table ([`CommandId`], worked out from the `&'static
//! CommandSpec` the router already looked up — no string, no hash), and the latency histogram
//! is lock-free ([`Latency`]; prometheus-client's own takes a write lock per observation).
//! A command's series are registered the first time it is seen, so `/metrics` lists the
//! commands clients use rather than all ~240 of the table; later observations only read a
//! `OnceLock`. Gauges (clients, backend connections, routing epoch and age, Pub/Sub) are
//! sampled when scraped, and so are the output-limit disconnections (counted in atomics where
//! they happen).
//!
//! Label values come from fixed sets only: command names from the table (anything else is
//! `other`), the [`ErrorKind`]s, the connection states and the backend addresses of the
//! routing tables.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use protocol::command::{CommandSpec, TABLE};

/// A command's metrics slot: its position in [`TABLE`], or `TABLE.len()` for `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandId(u16);

impl CommandId {
    /// Commands not in the table (unknown names, empty requests).
    pub const OTHER: CommandId = CommandId(TABLE.len() as u16);

    /// The id of a top-level command of [`TABLE`]; subcommands and anything else count as
    /// their container's or `other`. Pointer arithmetic, checked: `spec` is an element of the
    /// table exactly when the position it implies holds it.
    pub fn of(spec: &'static CommandSpec) -> CommandId {
        let offset = (spec as *const CommandSpec as usize).wrapping_sub(TABLE.as_ptr() as usize);
        let i = offset / std::mem::size_of::<CommandSpec>();
        match TABLE.get(i) {
            Some(at) if std::ptr::eq(at, spec) => CommandId(i as u16),
            _ => CommandId::OTHER,
        }
    }

    /// The label value: the command's lower-case name, or `other`.
    pub fn name(self) -> &'static str {
        TABLE.get(usize::from(self.0)).map_or("other", |c| c.name)
    }
}

/// What went wrong, for `rcluster_proxy_errors_total{kind}`. Backend kinds count every time a
/// backend answered so or could not be reached, whether the request was then retried or not;
/// proxy kinds count error replies the proxy wrote itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `-MOVED` from a backend: the table was stale.
    Moved,
    /// `-TRYAGAIN` from a backend (a master without a lease).
    TryAgain,
    /// `-CLUSTERDOWN` from a backend, or a slot the routing table places nowhere.
    ClusterDown,
    /// `-READONLY` from a backend (a promoted replica not yet a master) or `-LOADING`.
    NotReady,
    /// A request was never sent: the backend refused the connection or was unreachable.
    BackendUnreachable,
    /// The backend connection broke after a request was written.
    OutcomeUnknown,
    /// `-CROSSSLOT` from the proxy: keys in different slots.
    CrossSlot,
    /// A command the proxy does not support (yet).
    Unsupported,
    /// Any other error the proxy replied itself (unknown command, arity, NOAUTH …).
    Other,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::Moved,
        ErrorKind::TryAgain,
        ErrorKind::ClusterDown,
        ErrorKind::NotReady,
        ErrorKind::BackendUnreachable,
        ErrorKind::OutcomeUnknown,
        ErrorKind::CrossSlot,
        ErrorKind::Unsupported,
        ErrorKind::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Moved => "moved",
            ErrorKind::TryAgain => "tryagain",
            ErrorKind::ClusterDown => "clusterdown",
            ErrorKind::NotReady => "not_ready",
            ErrorKind::BackendUnreachable => "backend_unreachable",
            ErrorKind::OutcomeUnknown => "outcome_unknown",
            ErrorKind::CrossSlot => "crossslot",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Other => "other",
        }
    }
}

/// Upper bounds of the latency buckets, in nanoseconds: 50 µs to 5 s, then +Inf.
const BOUNDS_NS: [u64; 16] = [
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
];

#[derive(Debug, Default)]
struct LatencyInner {
    /// Per bucket (the last is +Inf), not cumulative: one addition per observation.
    buckets: [AtomicU64; BOUNDS_NS.len() + 1],
    sum_ns: AtomicU64,
}

/// A lock-free latency histogram with the [`BOUNDS_NS`] buckets. The count is the sum of the
/// buckets, worked out when scraped.
#[derive(Debug, Clone, Default)]
pub struct Latency(Arc<LatencyInner>);

impl Latency {
    pub fn observe(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let i = BOUNDS_NS.iter().position(|&b| ns <= b).unwrap_or(BOUNDS_NS.len());
        self.0.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.0.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.0.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }
}

impl TypedMetric for Latency {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Latency {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let mut buckets = [(0.0, 0); BOUNDS_NS.len() + 1];
        for (i, (bound, n)) in buckets.iter_mut().enumerate() {
            // The encoder writes f64::MAX as +Inf.
            *bound = BOUNDS_NS.get(i).map_or(f64::MAX, |&b| b as f64 / 1e9);
            *n = self.0.buckets[i].load(Ordering::Relaxed);
        }
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = self.0.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabel {
    command: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabel {
    backend: String,
}

/// One command's series.
struct CommandMetrics {
    total: Counter,
    duration: Latency,
}

/// Backend connections by state, summed over every pool (sampled when scraped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStates {
    pub connected: u64,
    pub connecting: u64,
    pub down: u64,
}

/// The proxy's metrics; see the module docs.
pub struct Metrics {
    registry: Registry,
    commands: Family<CommandLabel, Counter>,
    durations: Family<CommandLabel, Latency>,
    /// Indexed by [`CommandId`]; filled on a command's first use.
    per_command: Box<[OnceLock<CommandMetrics>]>,
    /// Indexed like [`ErrorKind::ALL`].
    errors: [Counter; ErrorKind::ALL.len()],
    retries: Counter,
    clients: Gauge,
    connections: Family<StateLabel, Gauge>,
    in_flight: Family<BackendLabel, Gauge>,
    epoch: Gauge,
    age: Gauge<f64, AtomicU64>,
    pubsub: Family<KindLabel, Gauge>,
    pubsub_links: Gauge,
    pubsub_queued: Gauge,
    output_cuts: Family<ClassLabel, Counter>,
}

/// What Pub/Sub and the output-buffer limits look like when scraped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PubSubSample {
    /// Distinct channels, patterns and shard channels the proxy's clients subscribe to.
    pub subscriptions: [usize; 3],
    /// Subscriber connections to backends.
    pub links: usize,
    /// Bytes queued for subscribers.
    pub queued: usize,
    /// Clients disconnected at their output-buffer limit so far: normal, pubsub.
    pub cuts: [u64; 2],
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("rcluster_proxy");
        let commands = Family::<CommandLabel, Counter>::default();
        r.register("commands", "Commands received from clients, by command", commands.clone());
        let durations = Family::<CommandLabel, Latency>::default();
        r.register(
            "command_duration_seconds",
            "From a command read to its reply ready to write, by command",
            durations.clone(),
        );
        let kinds = Family::<KindLabel, Counter>::default();
        r.register(
            "errors",
            "Errors met (from backends, retried or not) and error replies of the proxy, by kind",
            kinds.clone(),
        );
        // Every kind is registered up front so that a rate over it starts from zero.
        let errors =
            ErrorKind::ALL.map(|k| kinds.get_or_create(&KindLabel { kind: k.label() }).clone());
        let retries = Counter::default();
        r.register(
            "retries",
            "Requests sent again (MOVED, TRYAGAIN, lost connections …)",
            retries.clone(),
        );
        let clients = Gauge::default();
        r.register("clients", "Connected clients", clients.clone());
        let connections = Family::<StateLabel, Gauge>::default();
        r.register(
            "backend_connections",
            "Backend connections by state (connected, connecting, down), over all backends",
            connections.clone(),
        );
        let in_flight = Family::<BackendLabel, Gauge>::default();
        r.register(
            "backend_in_flight",
            "Requests queued for or awaiting a reply from a backend",
            in_flight.clone(),
        );
        let epoch = Gauge::default();
        r.register("routing_epoch", "The epoch of the routing table in force", epoch.clone());
        let age = Gauge::<f64, AtomicU64>::default();
        r.register(
            "routing_age_seconds",
            "Since the routing table in force was loaded or last received (-1: none yet)",
            age.clone(),
        );
        let pubsub = Family::<KindLabel, Gauge>::default();
        r.register(
            "pubsub_subscriptions",
            "Distinct channels, patterns and shard channels subscribed to through the proxy",
            pubsub.clone(),
        );
        let pubsub_links = Gauge::default();
        r.register(
            "pubsub_backend_connections",
            "Subscriber connections to backends (one per backend with subscriptions)",
            pubsub_links.clone(),
        );
        let pubsub_queued = Gauge::default();
        r.register(
            "pubsub_queued_bytes",
            "Bytes queued for subscribers and not yet written to them",
            pubsub_queued.clone(),
        );
        let output_cuts = Family::<ClassLabel, Counter>::default();
        r.register(
            "output_limit_disconnections",
            "Clients disconnected at their output-buffer limit, by class (normal, pubsub)",
            output_cuts.clone(),
        );
        for class in ["normal", "pubsub"] {
            let _ = output_cuts.get_or_create(&ClassLabel { class });
        }
        Metrics {
            registry: r,
            commands,
            durations,
            per_command: (0..=TABLE.len()).map(|_| OnceLock::new()).collect(),
            errors,
            retries,
            clients,
            connections,
            in_flight,
            epoch,
            age,
            pubsub,
            pubsub_links,
            pubsub_queued,
            output_cuts,
        }
    }

    /// Sets the Pub/Sub gauges and brings the disconnection counters up to the totals (they
    /// are counted where it happens, off the metrics, and only ever grow).
    pub fn sample_pubsub(&self, s: PubSubSample) {
        for (kind, n) in ["channel", "pattern", "shard_channel"].into_iter().zip(s.subscriptions) {
            self.pubsub.get_or_create(&KindLabel { kind }).set(n as i64);
        }
        self.pubsub_links.set(s.links as i64);
        self.pubsub_queued.set(s.queued as i64);
        for (class, total) in ["normal", "pubsub"].into_iter().zip(s.cuts) {
            let c = self.output_cuts.get_or_create(&ClassLabel { class });
            c.inc_by(total.saturating_sub(c.get()));
        }
    }

    fn command(&self, id: CommandId) -> &CommandMetrics {
        self.per_command[usize::from(id.0)].get_or_init(|| {
            let label = CommandLabel { command: id.name() };
            CommandMetrics {
                total: self.commands.get_or_create(&label).clone(),
                duration: self.durations.get_or_create(&label).clone(),
            }
        })
    }

    /// One command done: counted, and its latency observed.
    pub fn command_done(&self, id: CommandId, elapsed: Duration) {
        let m = self.command(id);
        m.total.inc();
        m.duration.observe(elapsed);
    }

    pub fn error(&self, kind: ErrorKind) {
        self.errors[kind as usize].inc();
    }

    pub fn retry(&self) {
        self.retries.inc();
    }

    /// Sets the gauges that are sampled at scrape time.
    pub fn sample(
        &self,
        clients: usize,
        states: ConnectionStates,
        in_flight: impl IntoIterator<Item = (String, u64)>,
        epoch: u64,
        age: Option<Duration>,
    ) {
        self.clients.set(clients as i64);
        for (state, n) in [
            ("connected", states.connected),
            ("connecting", states.connecting),
            ("down", states.down),
        ] {
            self.connections.get_or_create(&StateLabel { state }).set(n as i64);
        }
        for (backend, n) in in_flight {
            self.in_flight.get_or_create(&BackendLabel { backend }).set(n as i64);
        }
        self.epoch.set(epoch as i64);
        self.age.set(age.map_or(-1.0, |a| a.as_secs_f64()));
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_ids_are_table_positions() {
        let get = protocol::command::lookup(b"GET").unwrap();
        let id = CommandId::of(get);
        assert_eq!(id.name(), "get");
        for (i, c) in TABLE.iter().enumerate() {
            assert_eq!(CommandId::of(c), CommandId(i as u16));
        }
        // A subcommand is not an element of the table.
        let list = protocol::command::lookup_full_name(b"client|list").unwrap();
        assert_eq!(CommandId::of(list), CommandId::OTHER);
        assert_eq!(CommandId::OTHER.name(), "other");
    }

    #[test]
    fn latency_buckets_and_exposition() {
        let m = Metrics::new();
        let get = CommandId::of(protocol::command::lookup(b"get").unwrap());
        m.command_done(get, Duration::from_micros(10));
        m.command_done(get, Duration::from_micros(60));
        m.command_done(get, Duration::from_secs(10));
        m.error(ErrorKind::CrossSlot);
        m.sample(3, ConnectionStates { connected: 2, ..Default::default() }, [], 7, None);
        let text = m.render();
        for line in [
            "rcluster_proxy_commands_total{command=\"get\"} 3",
            "rcluster_proxy_command_duration_seconds_count{command=\"get\"} 3",
            "rcluster_proxy_command_duration_seconds_bucket{le=\"0.00005\",command=\"get\"} 1",
            "rcluster_proxy_command_duration_seconds_bucket{le=\"0.0001\",command=\"get\"} 2",
            "rcluster_proxy_command_duration_seconds_bucket{le=\"5.0\",command=\"get\"} 2",
            "rcluster_proxy_command_duration_seconds_bucket{le=\"+Inf\",command=\"get\"} 3",
            "rcluster_proxy_errors_total{kind=\"crossslot\"} 1",
            "rcluster_proxy_errors_total{kind=\"moved\"} 0",
            "rcluster_proxy_clients 3",
            "rcluster_proxy_backend_connections{state=\"connected\"} 2",
            "rcluster_proxy_routing_epoch 7",
            "rcluster_proxy_routing_age_seconds -1.0",
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line:?} in\n{text}");
        }
        assert!(!text.contains("command=\"set\""), "unused commands have no series");
    }
}
