//! Placeholder: the message broker (being written).
