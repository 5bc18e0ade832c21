//! Reading a token without verifying it. Nothing read here may be trusted: anyone can write
//! any header and payload. For display and debugging only (`tessera token decode`).

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::token::{decode_segment, split};

/// The parts of a token, decoded but NOT verified.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UntrustedParts {
    /// The header as JSON (any `alg`, including ones tessera refuses to verify).
    pub header: Map<String, Value>,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

impl UntrustedParts {
    /// The payload as JSON, if it is JSON (strictly parsed).
    pub fn payload_json(&self) -> Option<Value> {
        crate::json::parse_strict(&self.payload).ok()
    }
}

/// Decodes a compact JWS without checking its signature or claims. The same size, segment,
/// base64url and JSON rules apply as when verifying.
pub fn decode_without_verifying(token: &str, max_len: usize) -> Result<UntrustedParts> {
    let seg = split(token, max_len)?;
    let header_bytes = decode_segment(seg.header, "header")?;
    let header = crate::json::parse_object(&header_bytes)
        .map_err(|e| Error::Malformed(format!("header: {e}")))?;
    let payload = decode_segment(seg.payload, "payload")?;
    let signature = decode_segment(seg.signature, "signature")?;
    Ok(UntrustedParts {
        header,
        payload,
        signature,
    })
}
