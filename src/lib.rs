//! consim: a deterministic simulator of microservices and the strategies that keep their data
//! consistent.
//!
//! Read in this order: [`sim`] (virtual time, the event queue, seeded streams, the trace),
//! [`net`] (topology, links, faults, the per-message decision), [`world`] (actors and the run
//! loop). Same seed, same run: see ARCHITECTURE.md for how that is kept true.

pub mod args;
pub mod assembly;
pub mod broker;
pub mod chaos;
pub mod check;
pub mod chrome;
pub mod compare;
pub mod duration_text;
pub mod exercise;
pub mod html;
pub mod net;
pub mod pingmesh;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod seeds;
pub mod shrink;
pub mod sim;
pub mod store;
pub mod story;
pub mod strategy;
pub mod swarm;
pub mod sweep;
pub mod system;
pub mod workload;
pub mod world;
