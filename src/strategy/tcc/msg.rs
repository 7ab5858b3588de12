//! TCC's own message and the participant's timer. The try, the confirm and the cancel are the
//! services' `Reserve`, `Confirm` and `Release` local calls; only the expiry question is
//! TCC's own.

use crate::system::msg::{GlobalTxId, Msg, ProtocolMsg};
use crate::system::wire::{ID, STEP};

/// A participant's hold outlived `reservation_timeout`: the coordinator is asked to end it
/// (cancelling the transaction if it has not decided, or sending its decision again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expired {
    /// Which transaction.
    pub gtx: GlobalTxId,
    /// Which step's hold.
    pub step: u16,
}

const EXPIRED: u8 = 0;

/// The name of this message, at its `kind` number.
pub const KINDS: &[&str] = &["Expired"];

impl Expired {
    /// The system message carrying it.
    pub fn into_msg(self) -> Msg {
        Msg::Protocol(ProtocolMsg {
            gtx: self.gtx,
            step: self.step,
            kind: EXPIRED,
            wire_bytes: u8::try_from(ID + STEP).expect("a small message"),
            arg: 0,
            token: None,
        })
    }

    /// The expiry `msg` carries, if it is one.
    pub fn from_protocol(msg: ProtocolMsg) -> Option<Expired> {
        (msg.kind == EXPIRED).then_some(Expired {
            gtx: msg.gtx,
            step: msg.step,
        })
    }
}

/// The participant's one timer tag: a hold's reservation timeout.
pub const EXPIRE: u8 = 0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_survives_the_trip_through_the_system_message() {
        let expired = Expired {
            gtx: GlobalTxId(4),
            step: 2,
        };
        let Msg::Protocol(carried) = expired.into_msg() else {
            panic!("a protocol message")
        };
        assert_eq!(Expired::from_protocol(carried), Some(expired));
    }
}
