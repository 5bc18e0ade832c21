//! Strict base64url (RFC 7515 §2): no padding, no `+` or `/`, no whitespace, canonical last bits.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Decodes strict base64url; `None` on any deviation.
pub(crate) fn decode(input: &str) -> Option<Vec<u8>> {
    // URL_SAFE_NO_PAD refuses padding, characters outside the URL-safe alphabet and
    // non-zero trailing bits.
    URL_SAFE_NO_PAD.decode(input.as_bytes()).ok()
}

/// Decoded bytes, kept in place when they fit in `N` bytes, so that the short parts of a
/// token (its header, an HMAC, ECDSA or Ed25519 signature) cost no allocation.
#[derive(Clone)]
pub(crate) enum Decoded<const N: usize> {
    Inline([u8; N], usize),
    Heap(Vec<u8>),
}

impl<const N: usize> Decoded<N> {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Decoded::Inline(buf, len) => &buf[..*len],
            Decoded::Heap(v) => v,
        }
    }
}

impl<const N: usize> std::fmt::Debug for Decoded<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_slice().fmt(f)
    }
}

/// [`decode`], into place when the result surely fits in `N` bytes.
pub(crate) fn decode_small<const N: usize>(input: &str) -> Option<Decoded<N>> {
    // Four characters carry three bytes; a trailing group of two or three carries one or two.
    if input.len() / 4 * 3 + 2 > N {
        return decode(input).map(Decoded::Heap);
    }
    let mut buf = [0u8; N];
    let len = URL_SAFE_NO_PAD
        .decode_slice(input.as_bytes(), &mut buf)
        .ok()?;
    Some(Decoded::Inline(buf, len))
}

/// [`decode`], into `buf` when the result surely fits there.
pub(crate) fn decode_in<'b>(input: &str, buf: &'b mut [u8]) -> Option<Cow<'b, [u8]>> {
    if input.len() / 4 * 3 + 2 > buf.len() {
        return decode(input).map(Cow::Owned);
    }
    let len = URL_SAFE_NO_PAD.decode_slice(input.as_bytes(), buf).ok()?;
    Some(Cow::Borrowed(&buf[..len]))
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

    #[test]
    fn small_decoding_agrees_with_decode() {
        let mut cases: Vec<String> = [
            "", "AQAB", "AQAB=", "a+b/", "AQ AB", "AR", "AQ", "A", "_-_-",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        // Lengths around the in-place limit, well-formed and not.
        for n in 0..24 {
            let bytes: Vec<u8> = (0..n)
                .map(|i: u32| u8::try_from(i * 37 % 251).unwrap())
                .collect();
            let good = encode(&bytes);
            cases.push(format!("{good}A"));
            cases.push(good);
        }
        for case in &cases {
            let whole = decode(case);
            let small = decode_small::<8>(case);
            assert_eq!(
                whole.as_deref(),
                small.as_ref().map(Decoded::as_slice),
                "{case:?}"
            );
            if let Some(Decoded::Inline(_, len)) = small {
                assert!(len <= 8);
            }
        }
        for case in &cases {
            let mut buf = [0u8; 8];
            let decoded = decode_in(case, &mut buf);
            assert_eq!(decode(case).as_deref(), decoded.as_deref(), "{case:?}");
        }
        assert!(matches!(
            decode_small::<8>("AAAAAAAAAAA"),
            Some(Decoded::Inline(_, 8))
        ));
        assert!(matches!(
            decode_small::<8>("AAAAAAAAAAAA"),
            Some(Decoded::Heap(_))
        ));
    }
}
