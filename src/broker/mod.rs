//! An at-least-once message broker actor for asynchronous designs: outbox relays publish to
//! it, services consume from it (the transactional outbox, Richardson; delivery semantics as
//! in RabbitMQ's publisher confirms and consumer acks).
//!
//! Owns topics, their stored messages and subscriptions, delivery, acks and redelivery.
//! It does not know what a payload means, and it does not make consumers idempotent: a
//! publisher that misses a `PublishAck` publishes again and a delivery whose `Ack` is lost is
//! delivered again, so consumers see duplicates, and that is the point.
//!
//! **Invariants:**
//! - Every message stored for a subscriber is delivered to it until it acks, across lost
//!   messages and broker crashes (at least once, never exactly once by promise).
//! - Durable state (stored messages, subscriptions, attempt numbers, seen publish ids,
//!   counters) survives a crash; volatile state (in-flight deliveries and their timers)
//!   does not, and `on_recover` redelivers every unacked message.
//! - A message is stored only until every subscriber acked it: memory follows what is in
//!   flight, not the length of the run.
//! - With per-key ordering, at most one delivery per (subscription, key) is outstanding.
//! - Deterministic: ordered maps only, no randomness, virtual time only.
//!
//! Start reading at `protocol.rs`, then `actor.rs`; `topic.rs` and `subscription.rs` hold
//! the durable queues, `config.rs` and `stats.rs` the knobs and the counters.

mod actor;
mod config;
mod protocol;
mod stats;
mod subscription;
mod topic;

#[cfg(test)]
mod tests;

pub use actor::Broker;
pub use config::BrokerConfig;
pub use protocol::{BrokerEnvelope, BrokerMsg, Offset, TopicId};
pub use stats::BrokerStats;
