//! All integration tests, as one binary so they link once (it matters on a 2-core CI).

/// Faults aimed at protocol points: every declared point is reached; 2PC's points against
/// the literature; the twins, failing on every seed with a handful of requests.
mod aiming;
/// Every file under tests/data/bad/ fails with a located message; renderings are snapshots.
mod bad_input;
/// Workers and queues against queueing theory (M/M/1, M/M/c, M/D/1, Little's law).
mod capacity;
/// The binary: exit codes, the default run, JSON reports and traces, check/graph/list.
mod cli;
/// Read-then-write decisions under each isolation level and read guard: the double spend
/// caught on every seed, every countermeasure clean on every seed.
mod concurrency;
/// Same seed, same trace hash; different seed, different hash; a golden hash pins both
/// build profiles to one value.
mod determinism;
/// The classroom pack: each exercise fails as it ships with its hint; its solution passes.
mod exercises;
mod fuzz;
/// The HTML reports rendered in headless Chromium.
mod html;
/// Scaled-out services: an instance crashes alone; balancers route around it or wait.
mod instances;
/// The kernel's promises: streams, crashes, partitions, drift, limits, bad configuration.
mod kernel;
/// Convergence deadlines, anomalies and cost metrics on real runs of bundled scenarios.
mod metrics;
/// Every bundled scenario and model loads, runs deterministically and matches its snapshot.
mod scenarios;
/// A failing seed shrinks to a smaller scenario file that still fails.
mod shrink;
/// The story behind a violation: explain and diagram on the bundled twins.
mod story;
/// Each strategy against the literature, under random and bundled faults; twins are caught.
mod strategies;
/// Small actors the kernel tests share.
mod support;
/// Swarm seeds: correct strategies hold, twins are caught, a draw replays as a plain file.
mod swarm;
/// Sweeps and comparisons give the same per-seed results on one thread and on many.
mod sweep;
/// Services, gateway, client and workload end to end under a naive test strategy.
mod system;
