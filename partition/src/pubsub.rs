//! Pub/Sub: who is subscribed to what, and delivery of messages into subscribers' outboxes.
//!
//! The registry lives in [`crate::state::State`], so PUBLISH, keyspace notifications and
//! (un)subscriptions are ordered by the command lock like every other command. A message is
//! encoded once per protocol version and appended to each subscriber's
//! [`crate::client::Outbox`]; its connection writes it out. A subscriber that stops reading is
//! disconnected when its outbox passes the `pubsub` class of `client-output-buffer-limit`, so a
//! slow subscriber cannot grow the server's memory without bound.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use protocol::ReplyWriter;

use crate::client::{BufferLimit, ClientHandle};
use crate::glob::matches as string_match;

/// The three kinds of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

type Subscribers = HashMap<u64, Arc<ClientHandle>, ahash::RandomState>;
type Registry = HashMap<Bytes, Subscribers, ahash::RandomState>;

/// Every subscription of every client.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: Registry,
    patterns: Registry,
    shard_channels: Registry,
    /// The `pubsub` output buffer limit, mirrored from the config.
    pub limit: BufferLimit,
}

impl PubSub {
    fn registry(&self, kind: Kind) -> &Registry {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    fn registry_mut(&mut self, kind: Kind) -> &mut Registry {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    /// Adds `client` to the subscribers of `name`.
    pub fn subscribe(&mut self, kind: Kind, name: &Bytes, client: &Arc<ClientHandle>) {
        self.registry_mut(kind).entry(name.clone()).or_default().insert(client.id, client.clone());
    }

    /// Removes `client` from the subscribers of `name`.
    pub fn unsubscribe(&mut self, kind: Kind, name: &[u8], client_id: u64) {
        let registry = self.registry_mut(kind);
        if let Some(subs) = registry.get_mut(name) {
            subs.remove(&client_id);
            if subs.is_empty() {
                registry.remove(name);
            }
        }
    }

    /// PUBLISH (or SPUBLISH for shard channels): delivers `message` to the channel's
    /// subscribers and, for ordinary channels, to every client whose pattern matches. Returns
    /// the number of clients that received it.
    pub fn publish(&mut self, shard: bool, channel: &[u8], message: &[u8]) -> usize {
        let limit = self.limit;
        let mut encoded = Encoded::default();
        let mut receivers = 0;
        let (registry, kind) =
            if shard { (&self.shard_channels, "smessage") } else { (&self.channels, "message") };
        if let Some(subs) = registry.get(channel) {
            for client in subs.values() {
                let bytes = encoded.get(client, |w| {
                    w.push(3);
                    w.bulk(kind.as_bytes());
                    w.bulk(channel);
                    w.bulk(message);
                });
                deliver(client, bytes, limit);
                receivers += 1;
            }
        }
        if shard {
            return receivers;
        }
        for (pattern, subs) in &self.patterns {
            if !string_match(pattern, channel, false) {
                continue;
            }
            let mut encoded = Encoded::default();
            for client in subs.values() {
                let bytes = encoded.get(client, |w| {
                    w.push(4);
                    w.bulk(b"pmessage");
                    w.bulk(pattern);
                    w.bulk(channel);
                    w.bulk(message);
                });
                deliver(client, bytes, limit);
                receivers += 1;
            }
        }
        receivers
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS: active channels matching `pattern` (all when `None`).
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.registry(kind)
            .keys()
            .filter(|c| pattern.is_none_or(|p| string_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB: subscribers of one channel.
    pub fn subscriber_count(&self, kind: Kind, channel: &[u8]) -> usize {
        self.registry(kind).get(channel).map_or(0, |s| s.len())
    }

    /// Channels (or shard channels) with at least one subscriber (INFO `pubsub_channels`).
    pub fn channel_count(&self, kind: Kind) -> usize {
        self.registry(kind).len()
    }

    /// PUBSUB NUMPAT: the number of distinct patterns subscribed to.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// True when nobody subscribes to anything (keyspace notifications then cost nothing).
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty()
    }
}

/// A message encoded at most once per protocol version.
#[derive(Default)]
struct Encoded {
    resp2: Option<ReplyWriter>,
    resp3: Option<ReplyWriter>,
}

impl Encoded {
    fn get(&mut self, client: &ClientHandle, write: impl FnOnce(&mut ReplyWriter)) -> &[u8] {
        let resp3 = client.info().resp >= 3;
        let slot = if resp3 { &mut self.resp3 } else { &mut self.resp2 };
        slot.get_or_insert_with(|| {
            let mut w = ReplyWriter::new(resp3);
            write(&mut w);
            w
        })
        .buffer()
    }
}

/// Queues `bytes` for `client`, disconnecting it when its output buffer limit is reached.
fn deliver(client: &ClientHandle, bytes: &[u8], limit: BufferLimit) {
    if client.is_killed() {
        return;
    }
    if !client.outbox.push(bytes, limit, 0) {
        tracing::warn!(
            id = client.id,
            addr = %client.addr,
            "client scheduled to be closed for overcoming of output buffer limits"
        );
        client.kill();
    }
}
