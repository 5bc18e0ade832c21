//! What a verifier accepts, in one builder with safe defaults.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::claims::{NumericDate, RegisteredClaims};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::header::{Header, same_media_type};

/// Default limit on the length of a token, checked before anything is decoded.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 16 * 1024;

/// Default clock leeway in seconds.
pub const DEFAULT_LEEWAY: u64 = 30;

type Check =
    Arc<dyn Fn(&Header, &Map<String, Value>) -> std::result::Result<(), String> + Send + Sync>;

/// The rules a token must meet.
///
/// Defaults: `exp` required and checked, `nbf` and `iat` checked when present, 30 s leeway,
/// 16 KiB size limit, the system clock, no `crit` extensions understood, and a token that
/// carries an `aud` is refused unless an accepted audience is configured.
///
/// ```
/// use tessera_jwt::{Algorithm, Validation};
/// let validation = Validation::new([Algorithm::RS256])
///     .issuer("https://auth.example.com")
///     .audience("orders-api")
///     .typ("at+jwt")
///     .require("sub");
/// # let _ = validation;
/// ```
#[derive(Clone)]
pub struct Validation {
    pub(crate) algorithms: Vec<Algorithm>,
    leeway: u64,
    check_exp: bool,
    check_nbf: bool,
    max_age: Option<u64>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    any_audience: bool,
    subject: Option<String>,
    typ: Option<String>,
    pub(crate) required: Vec<String>,
    pub(crate) understood_crit: Vec<String>,
    pub(crate) max_token_len: usize,
    clock: Arc<dyn Clock>,
    checks: Vec<Check>,
}

impl fmt::Debug for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validation")
            .field("algorithms", &self.algorithms)
            .field("leeway", &self.leeway)
            .field("check_exp", &self.check_exp)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("typ", &self.typ)
            .field("required", &self.required)
            .field("checks", &self.checks.len())
            .finish_non_exhaustive()
    }
}

impl Default for Validation {
    /// Accepts whatever algorithm the selected key is bound to.
    fn default() -> Self {
        Validation {
            algorithms: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            check_exp: true,
            check_nbf: true,
            max_age: None,
            issuers: Vec::new(),
            audiences: Vec::new(),
            any_audience: false,
            subject: None,
            typ: None,
            required: vec!["exp".into()],
            understood_crit: Vec::new(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            clock: Arc::new(SystemClock),
            checks: Vec::new(),
        }
    }
}

impl Validation {
    /// Accepts these algorithms only (each key is still bound to its own one).
    pub fn new(algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        Validation {
            algorithms: algorithms.into_iter().collect(),
            ..Validation::default()
        }
    }

    /// The accepted algorithms (empty: the selected key's own).
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// Accepts `iss` equal to this issuer (may be called more than once).
    #[must_use]
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuers.push(iss.into());
        self
    }

    /// Accepts a token whose `aud` contains this audience (may be called more than once).
    #[must_use]
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// Does not check `aud` at all. A token meant for another service will pass: only for
    /// tools that inspect tokens, never for an API.
    #[must_use]
    pub fn insecure_any_audience(mut self) -> Self {
        self.any_audience = true;
        self
    }

    /// Requires `sub` to equal this.
    #[must_use]
    pub fn subject(mut self, sub: impl Into<String>) -> Self {
        self.subject = Some(sub.into());
        self
    }

    /// Requires the header `typ` (compared as a media type: `at+jwt` = `application/at+jwt`).
    #[must_use]
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Requires a claim to be present.
    #[must_use]
    pub fn require(mut self, claim: impl Into<String>) -> Self {
        let claim = claim.into();
        if !self.required.contains(&claim) {
            self.required.push(claim);
        }
        self
    }

    /// Clock leeway in seconds for `exp`, `nbf` and `iat`.
    #[must_use]
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// Refuses tokens issued more than `secs` ago (requires `iat`).
    #[must_use]
    pub fn max_age(mut self, secs: u64) -> Self {
        self.max_age = Some(secs);
        self.require("iat")
    }

    /// Neither requires nor checks `exp`: an expired token passes. Only for inspecting tokens.
    #[must_use]
    pub fn insecure_ignore_exp(mut self) -> Self {
        self.check_exp = false;
        self.required.retain(|c| c != "exp");
        self
    }

    /// Does not require `exp` (it is still checked when present).
    #[must_use]
    pub fn exp_optional(mut self) -> Self {
        self.required.retain(|c| c != "exp");
        self
    }

    /// The clock to judge time by.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Limit on token length in bytes.
    #[must_use]
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }

    /// A `crit` extension this verifier understands (the caller checks its meaning).
    #[must_use]
    pub fn understand_crit(mut self, name: impl Into<String>) -> Self {
        self.understood_crit.push(name.into());
        self
    }

    /// Adds a check of the caller's own, run after every built-in one.
    #[must_use]
    pub fn check(
        mut self,
        f: impl Fn(&Header, &Map<String, Value>) -> std::result::Result<(), String>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.checks.push(Arc::new(f));
        self
    }

    /// The current time by this validation's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Header rules that apply to every JWS: `crit` and `typ`.
    pub(crate) fn check_header(&self, header: &Header) -> Result<()> {
        header.check_crit(&self.understood_crit)?;
        if let Some(expected) = &self.typ {
            match &header.typ {
                Some(got) if got == expected || same_media_type(expected, got) => {}
                got => {
                    return Err(Error::TypeMismatch {
                        expected: expected.clone(),
                        got: got.clone().unwrap_or_else(|| "(none)".into()),
                    });
                }
            }
        }
        if !self.algorithms.is_empty() && !self.algorithms.contains(&header.alg) {
            return Err(Error::AlgorithmNotAllowed(header.alg.name().into()));
        }
        Ok(())
    }

    /// Claim rules, on a claims set whose signature has been verified.
    pub(crate) fn check_claims(
        &self,
        header: &Header,
        claims: &Map<String, Value>,
    ) -> Result<RegisteredClaims> {
        let reg = RegisteredClaims::from_map(claims)?;
        self.check_registered(&reg, |name| claims.contains_key(name))?;
        for check in &self.checks {
            check(header, claims).map_err(Error::Rejected)?;
        }
        Ok(reg)
    }

    /// Whether checks of the caller's own were added (they need the claims as a map).
    pub(crate) fn has_custom_checks(&self) -> bool {
        !self.checks.is_empty()
    }

    /// The built-in claim rules, on registered claims already read and type-checked;
    /// `present` tells whether the claims set has a member of that name.
    pub(crate) fn check_registered(
        &self,
        reg: &RegisteredClaims,
        present: impl Fn(&str) -> bool,
    ) -> Result<()> {
        for name in &self.required {
            if !present(name) {
                return Err(Error::MissingClaim(name.clone()));
            }
        }
        let now_secs = self.clock.now();
        let now = NumericDate::clamp(now_secs);
        #[allow(clippy::cast_precision_loss)]
        let (now_f, leeway) = (now_secs as f64, self.leeway as f64);
        if self.check_exp
            && let Some(exp) = reg.exp
        {
            // RFC 7519 §4.1.4: the current time must be before exp.
            if now_f >= exp.as_f64() + leeway {
                return Err(Error::Expired { exp, now });
            }
        }
        if self.check_nbf
            && let Some(nbf) = reg.nbf
            && now_f + leeway < nbf.as_f64()
        {
            return Err(Error::NotYetValid { nbf, now });
        }
        if let Some(iat) = reg.iat {
            if now_f + leeway < iat.as_f64() {
                return Err(Error::IssuedInFuture { iat, now });
            }
            if let Some(max_age) = self.max_age {
                #[allow(clippy::cast_precision_loss)]
                if now_f - iat.as_f64() > max_age as f64 + leeway {
                    return Err(Error::TooOld { iat, max_age, now });
                }
            }
        }
        if !self.issuers.is_empty() {
            match &reg.iss {
                Some(iss) if self.issuers.iter().any(|i| i == iss) => {}
                Some(iss) => {
                    return Err(Error::IssuerMismatch {
                        expected: self.issuers.join(" or "),
                        got: iss.clone(),
                    });
                }
                None => return Err(Error::MissingClaim("iss".into())),
            }
        }
        if !self.any_audience {
            match (&reg.aud, self.audiences.is_empty()) {
                (None, true) => {}
                (None, false) => return Err(Error::MissingClaim("aud".into())),
                (Some(aud), false) if self.audiences.iter().any(|a| aud.contains(a)) => {}
                (Some(aud), none_configured) => {
                    return Err(Error::AudienceMismatch {
                        expected: if none_configured {
                            "no audience (none is configured)".into()
                        } else {
                            self.audiences.join(" or ")
                        },
                        got: aud.to_string(),
                    });
                }
            }
        }
        if let Some(expected) = &self.subject {
            match &reg.sub {
                Some(sub) if sub == expected => {}
                Some(sub) => {
                    return Err(Error::SubjectMismatch {
                        expected: expected.clone(),
                        got: sub.clone(),
                    });
                }
                None => return Err(Error::MissingClaim("sub".into())),
            }
        }
        Ok(())
    }
}
