//! Validation of the `[[providers]]` entries (outside identity providers): issuer, keys,
//! audiences, the browser flow's client, and the linking rules of issue 9.

use super::raw::*;
use std::str::FromStr;
use std::time::Duration;

use tessera_jwt::{Algorithm, Family};

use super::{ConfigError, LinkExisting, ProviderKeys, ProviderSettings, Secret, invalid, positive};

pub(super) fn validate_provider(
    i: usize,
    raw: RawProvider,
) -> Result<ProviderSettings, ConfigError> {
    let key = |k: &str| format!("providers[{i}].{k}");
    let raw_linking = RawProviderLinking {
        link_existing: raw.link_existing.clone(),
        create_users: raw.create_users,
        allowed_domains: raw.allowed_domains.clone(),
        max_id_token_age: raw.max_id_token_age,
    };
    let name = raw.name.trim().to_owned();
    if name.is_empty() {
        return Err(invalid(&key("name"), "must not be empty"));
    }
    let issuer = raw.issuer.trim().to_owned();
    tessera_guard::check_outbound_url(&issuer)
        .map_err(|e| invalid(&key("issuer"), e.to_string()))?;
    let keys = match (raw.jwks_uri, raw.discovery) {
        (Some(_), Some(true)) => {
            return Err(invalid(
                &key("jwks_uri"),
                "give jwks_uri or discovery = true, not both",
            ));
        }
        (Some(uri), _) => {
            tessera_guard::check_outbound_url(uri.trim())
                .map_err(|e| invalid(&key("jwks_uri"), e.to_string()))?;
            ProviderKeys::JwksUri(uri.trim().to_owned())
        }
        (None, Some(false)) => {
            return Err(invalid(&key("jwks_uri"), "required when discovery = false"));
        }
        (None, _) => ProviderKeys::Discovery,
    };
    let audience = match raw.audience {
        OneOrMany::One(a) => vec![a],
        OneOrMany::Many(list) => list,
    };
    let audience: Vec<String> = audience.into_iter().map(|a| a.trim().to_owned()).collect();
    if audience.is_empty() || audience.iter().any(String::is_empty) {
        return Err(invalid(
            &key("audience"),
            "at least one non-empty audience (your client id at the provider)",
        ));
    }
    let algorithms = match raw.algorithms {
        None => vec![Algorithm::RS256],
        Some(list) if list.is_empty() => {
            return Err(invalid(&key("algorithms"), "must not be empty"));
        }
        Some(list) => list
            .iter()
            .map(|a| {
                Algorithm::from_str(a.trim())
                    .ok()
                    .filter(|alg| alg.family() != Family::Hmac)
                    .ok_or_else(|| {
                        invalid(
                            &key("algorithms"),
                            format!("{a:?} is not an asymmetric JWS algorithm"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    let client_id = match raw.client_id {
        Some(id) => {
            let id = id.trim().to_owned();
            if id.is_empty() {
                return Err(invalid(&key("client_id"), "must not be empty"));
            }
            // The ID token of the code flow is issued to the client id: its `aud` must be
            // one that `audience` accepts.
            if !audience.contains(&id) {
                return Err(invalid(
                    &key("client_id"),
                    format!("{id:?} must be one of `audience` (the ID tokens are issued to it)"),
                ));
            }
            Some(id)
        }
        None if audience.len() == 1 => Some(audience[0].clone()),
        None => None,
    };
    let client_secret = match raw.client_secret {
        Some(secret) if secret.expose().trim().is_empty() => {
            return Err(invalid(&key("client_secret"), "must not be empty"));
        }
        Some(_) if client_id.is_none() => {
            return Err(invalid(
                &key("client_secret"),
                "needs client_id (there are several audiences to choose from)",
            ));
        }
        Some(secret) => Some(Secret::new(secret.expose().trim())),
        None => None,
    };
    let scopes = match raw.scopes {
        None => DEFAULT_PROVIDER_SCOPES.map(str::to_owned).to_vec(),
        Some(list) => {
            let list: Vec<String> = list.iter().map(|s| s.trim().to_owned()).collect();
            if let Some(bad) = list.iter().find(|s| !is_scope_token(s)) {
                return Err(invalid(
                    &key("scopes"),
                    format!(
                        "{bad:?} is not a scope (RFC 6749 §3.3: printable ASCII, no space, quote or backslash)"
                    ),
                ));
            }
            if !list.iter().any(|s| s == "openid") {
                return Err(invalid(
                    &key("scopes"),
                    "must include \"openid\" (without it the provider issues no ID token)",
                ));
            }
            let mut unique = Vec::with_capacity(list.len());
            for scope in list {
                if !unique.contains(&scope) {
                    unique.push(scope);
                }
            }
            unique
        }
    };
    let linking = validate_provider_linking(i, &raw_linking)?;
    Ok(ProviderSettings {
        name,
        issuer,
        keys,
        audience,
        algorithms,
        client_id,
        client_secret,
        scopes,
        link_existing: linking.0,
        create_users: linking.1,
        allowed_domains: linking.2,
        max_id_token_age: linking.3,
    })
}

/// The linking keys of a `[[providers]]` entry, as given.
pub(super) struct RawProviderLinking {
    pub(super) link_existing: Option<String>,
    pub(super) create_users: Option<bool>,
    pub(super) allowed_domains: Option<Vec<String>>,
    pub(super) max_id_token_age: Option<Dur>,
}

/// `link_existing`, `create_users`, `allowed_domains` (lowercased), `max_id_token_age`.
pub(super) fn validate_provider_linking(
    i: usize,
    raw: &RawProviderLinking,
) -> Result<(LinkExisting, bool, Vec<String>, Duration), ConfigError> {
    let key = |k: &str| format!("providers[{i}].{k}");
    let link_existing = match raw.link_existing.as_deref().map(str::trim) {
        None | Some("never") => LinkExisting::Never,
        Some("verified_email") => LinkExisting::VerifiedEmail,
        Some(other) => {
            return Err(invalid(
                &key("link_existing"),
                format!("{other:?} is not \"never\" or \"verified_email\""),
            ));
        }
    };
    let mut allowed_domains = Vec::new();
    for domain in raw.allowed_domains.iter().flatten() {
        let domain = domain.trim().to_ascii_lowercase();
        if domain.is_empty() || domain.contains('@') || domain.contains(char::is_whitespace) {
            return Err(invalid(
                &key("allowed_domains"),
                format!("{domain:?} is not an e-mail domain (like \"example.com\")"),
            ));
        }
        if !allowed_domains.contains(&domain) {
            allowed_domains.push(domain);
        }
    }
    if link_existing == LinkExisting::VerifiedEmail && allowed_domains.is_empty() {
        return Err(invalid(
            &key("allowed_domains"),
            "link_existing = \"verified_email\" needs allowed_domains: the e-mail domains whose addresses this provider really verifies",
        ));
    }
    let max_id_token_age = positive(
        &key("max_id_token_age"),
        raw.max_id_token_age.unwrap_or(Dur::mins(10)),
    )?;
    Ok((
        link_existing,
        raw.create_users.unwrap_or(true),
        allowed_domains,
        max_id_token_age,
    ))
}

/// The scopes asked of a provider when `scopes` is not set.
pub(super) const DEFAULT_PROVIDER_SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub(super) fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}
