//! Placeholder: the per-service database (being written).
