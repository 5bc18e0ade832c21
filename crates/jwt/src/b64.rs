//! Strict base64url (RFC 7515 §2): no padding, no `+` or `/`, no whitespace, canonical last bits.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Decodes strict base64url; `None` on any deviation.
pub(crate) fn decode(input: &str) -> Option<Vec<u8>> {
    // URL_SAFE_NO_PAD refuses padding, characters outside the URL-safe alphabet and
    // non-zero trailing bits.
    URL_SAFE_NO_PAD.decode(input.as_bytes()).ok()
}

/// Encodes base64url without padding.
pub(crate) fn encode(input: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(input)
}

/// Appends the encoding of `input` to `out`.
pub(crate) fn encode_into(input: impl AsRef<[u8]>, out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(input, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict() {
        assert_eq!(decode("AQAB").unwrap(), vec![1, 0, 1]);
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
        assert!(decode("AQAB=").is_none(), "padding");
        assert!(decode("AQ==").is_none(), "padding");
        assert!(decode("a+b/").is_none(), "standard alphabet");
        assert!(decode("AQ AB").is_none(), "whitespace");
        assert!(decode("AR").is_none(), "non-canonical trailing bits");
        assert!(decode("AQ").is_some());
        assert!(decode("A").is_none(), "impossible length");
    }
}
