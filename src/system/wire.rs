//! How many bytes each message would take on a real wire: an estimate for the report's
//! bytes per transaction, so strategies can be compared by traffic as well as by message
//! count (2PC's votes are small, an event carrying a request's keys is not).
//!
//! The estimate is a fixed header plus the payload's fields at their natural widths: ids,
//! keys, tokens and sums 8 bytes, step numbers and table ids 2, enums and flags 1, topics and
//! attempts 4. It is a model, not a serialisation: no message is ever encoded.

use crate::broker::BrokerMsg;
use crate::system::msg::{ClientRequest, LocalCall, Msg};

/// Bytes every message carries before its payload: source and destination addresses (4
/// each), message kind (2), length (4) and checksum (2).
pub const HEADER_BYTES: u32 = 16;

/// Field widths, public so a strategy can state its messages' sizes the same way.
pub const ID: u32 = 8; // request, transaction, key, token, publish id, offset, sum
/// A step number or table id.
pub const STEP: u32 = 2; // step number, table id
/// An enum or a flag.
pub const TAG: u32 = 1; // enum or flag
const TOPIC: u32 = 4; // topic id, delivery attempt
const KEYS: u32 = 3 * ID; // RequestKeys: key, other, tx

impl Msg {
    /// Estimated size on the wire, header included, in bytes (see the module docs). Timer
    /// payloads never cross the network and count 0.
    pub fn wire_size(&self) -> u32 {
        let payload = match self {
            Msg::Request(ClientRequest { .. }) => 3 * ID + TAG + (TAG + ID), // req, key, other, audit, credentials
            Msg::Response { .. } => ID + TAG,
            Msg::Begin { .. } => ID + KEYS + ID,
            Msg::Outcome { .. } => ID + TAG,
            Msg::Local(LocalCall { .. }) => ID + STEP + 2 * TAG + KEYS + 3 * TAG + ID,
            Msg::LocalReply { .. } => ID + STEP + 2 * TAG,
            Msg::AuditRead { .. } => 2 * ID,
            Msg::AuditReply { .. } => 2 * ID,
            Msg::DirectDbAccess { .. } => STEP,
            Msg::Protocol(protocol) => u32::from(protocol.wire_bytes),
            Msg::Broker(broker) => match broker {
                BrokerMsg::Publish { .. } => TOPIC + 2 * ID + EVENT,
                BrokerMsg::PublishAck { .. } => ID,
                BrokerMsg::Subscribe { .. } | BrokerMsg::SubscribeAck { .. } => TOPIC,
                BrokerMsg::Deliver { .. } => TOPIC + 2 * ID + TOPIC + EVENT,
                BrokerMsg::Ack { .. } => TOPIC + ID,
                BrokerMsg::Redeliver { .. } => return 0,
            },
            Msg::Timer(_) => return 0,
        };
        HEADER_BYTES + payload
    }
}

/// A [`crate::system::msg::DomainEvent`]: kind, transaction, step, the request's keys.
const EVENT: u32 = TAG + ID + STEP + KEYS;

/// The wire size of `msg`, as a function a `WorldBuilder` takes.
pub fn wire_size(msg: &Msg) -> u32 {
    msg.wire_size()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::msg::{GlobalTxId, RequestId, TxOutcome};

    #[test]
    fn a_message_is_its_header_plus_its_fields() {
        let outcome = Msg::Outcome {
            gtx: GlobalTxId(1),
            outcome: TxOutcome::Committed,
        };
        assert_eq!(outcome.wire_size(), HEADER_BYTES + 9);
        let read = Msg::AuditRead {
            req: RequestId(1),
            token: crate::system::msg::Token(0),
        };
        assert_eq!(read.wire_size(), 32);
    }
}
