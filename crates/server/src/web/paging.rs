//! Paging of the lists the browser pages read (`GET /sessions`, `GET /admin/api/users`,
//! `GET /admin/api/clients`): `?limit=N` (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`])
//! and `?cursor=C`, where `C` is the `next_cursor` of the previous page's answer. The answer
//! carries `next_cursor` only when there is more.
//!
//! Keyset pagination: a cursor is the sort key of the last row shown (base64url of a JSON
//! array, opaque to clients), and the next page is what sorts after it — no OFFSET, so rows
//! added or removed meanwhile never make a page skip or repeat one. A cursor is only a
//! position: it grants nothing, and a forged one just starts the list elsewhere.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Rows per page when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: u32 = 50;
/// Most rows per page.
pub(crate) const MAX_LIMIT: u32 = 200;
/// Longest cursor accepted, in characters (every real one is far shorter).
const MAX_CURSOR_LEN: usize = 2048;

/// `limit` and `cursor` of a list request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageRequest {
    /// Rows wanted (1 to [`MAX_LIMIT`]).
    pub(crate) limit: u32,
    /// The decoded cursor: the JSON array of the last row's sort key.
    cursor: Option<serde_json::Value>,
}

impl PageRequest {
    /// Reads `limit` and `cursor` from a raw query string (other parameters are ignored).
    /// Bad values: 400 `invalid_request` saying what is wrong.
    pub(crate) fn from_query(query: Option<&str>) -> Result<Self, ApiError> {
        let mut limit: Option<String> = None;
        let mut cursor: Option<String> = None;
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let slot = match &*name {
                "limit" => &mut limit,
                "cursor" => &mut cursor,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(ApiError::invalid_request(format!(
                    "`{name}` is given more than once"
                )));
            }
        }
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid_request(format!(
                        "`limit` must be a whole number from 1 to {MAX_LIMIT}"
                    ))
                })?,
        };
        let cursor = cursor.map(|text| decode_cursor(&text)).transpose()?;
        Ok(Self { limit, cursor })
    }

    /// The cursor as the key of this list (`None`: the first page). A cursor of another list
    /// or shape is refused like a malformed one.
    pub(crate) fn cursor<T: DeserializeOwned>(&self) -> Result<Option<T>, ApiError> {
        self.cursor
            .clone()
            .map(|value| serde_json::from_value(value).map_err(|_| bad_cursor()))
            .transpose()
    }

    /// How many rows to ask the store for: one more than the page, to know whether there is
    /// a next one.
    pub(crate) fn fetch(&self) -> u32 {
        self.limit + 1
    }

    /// Cuts `rows` (fetched with [`fetch`](Self::fetch)) to the page and gives the cursor of
    /// the next page, if there is one, from the last row's `key`.
    pub(crate) fn finish<R, K: Serialize>(
        &self,
        mut rows: Vec<R>,
        key: impl Fn(&R) -> K,
    ) -> (Vec<R>, Option<String>) {
        let page = usize::try_from(self.limit).unwrap_or(usize::MAX);
        if rows.len() <= page {
            return (rows, None);
        }
        rows.truncate(page);
        let next = rows.last().map(|row| encode_cursor(&key(row)));
        (rows, next)
    }
}

fn bad_cursor() -> ApiError {
    ApiError::invalid_request(
        "`cursor` is not valid here: pass the `next_cursor` of an earlier answer of this list, unchanged",
    )
}

fn encode_cursor<K: Serialize>(key: &K) -> String {
    // Serialising a tuple of strings and integers cannot fail; an empty cursor would only
    // restart the list.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

fn decode_cursor(text: &str) -> Result<serde_json::Value, ApiError> {
    if text.is_empty() || text.len() > MAX_CURSOR_LEN {
        return Err(bad_cursor());
    }
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad_cursor())?;
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(value @ serde_json::Value::Array(_)) => Ok(value),
        _ => Err(bad_cursor()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn limits_and_cursors() {
        let page = PageRequest::from_query(None).unwrap();
        assert_eq!(
            (page.limit, page.cursor::<(String,)>().unwrap()),
            (50, None)
        );
        let page = PageRequest::from_query(Some("limit=200&other=x")).unwrap();
        assert_eq!(page.limit, 200);
        for bad in [
            "limit=0",
            "limit=201",
            "limit=-1",
            "limit=ten",
            "limit=",
            "limit=1&limit=2",
            "cursor=",
            "cursor=%%%",
            "cursor=bm90IGpzb24",
            "cursor=e30",
        ] {
            let err = PageRequest::from_query(Some(bad)).unwrap_err();
            assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST, "{bad}");
        }
        let long = format!("cursor={}", "A".repeat(MAX_CURSOR_LEN + 1));
        assert!(PageRequest::from_query(Some(&long)).is_err());
    }

    #[test]
    fn a_cursor_round_trips_and_has_its_shape() {
        let page = PageRequest::from_query(Some("limit=2")).unwrap();
        let (rows, next) = page.finish(vec![1, 2, 3], |n| (format!("k{n}"), *n));
        assert_eq!(rows, [1, 2]);
        let next = next.unwrap();
        let again = PageRequest::from_query(Some(&format!("cursor={next}"))).unwrap();
        assert_eq!(
            again.cursor::<(String, i64)>().unwrap(),
            Some(("k2".to_owned(), 2))
        );
        // Another list's cursor is refused, not misread.
        assert!(again.cursor::<(i64, i64)>().is_err());
        let (rows, next) = page.finish(vec![1, 2], |n| *n);
        assert_eq!((rows.len(), next), (2, None));
    }
}
