//! Why a PUBLISH could not be sent.

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The transport is down: the same PUBLISH may succeed later
    /// (TRYAGAIN).
    #[error("{0}")]
    Unavailable(String),
    /// The message is larger than this instance reassembles
    /// (`--nats-reassembly-limit`): it can never be sent as it is.
    #[error("message of {size} bytes over the reassembly limit of {limit}")]
    OverReassemblyLimit { size: usize, limit: usize },
    /// The NATS server's max_payload is too small even for chunks.
    #[error("max_payload {max} too small for chunks of a {size}-byte message")]
    PayloadLimitTooSmall { max: usize, size: usize },
    /// NATS refused the message for good (an invalid subject).
    #[error("refused: {0}")]
    Refused(String),
}
