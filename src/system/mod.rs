//! The simulated business system: the model (services, data, the business transaction), its
//! messages, and the actors that run it — services with their databases, the gateway, the
//! clients — plus the history they record.
//!
//! **Invariant:** services and the gateway do not know which strategy runs; strategies plug
//! in through the messages in `msg.rs` and the [`participant::Participant`] hooks. Start
//! reading at `model.rs`, then `service.rs`.

pub mod client;
pub mod describe;
pub mod examples;
pub mod gateway;
pub mod history;
pub mod model;
pub mod msg;
pub mod paced;
pub mod participant;
pub mod pool;
pub mod service;
pub mod timer;
pub mod wire;
