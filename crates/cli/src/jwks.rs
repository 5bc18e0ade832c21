//! `tessera jwks`: a JWK Set of the public halves of key files, ready to publish.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use tessera_jwt::JwkSet;

use crate::keyfile::KeyFile;
use crate::output;

#[derive(Debug, Args)]
#[command(
    about = "Print a JWK Set of the public halves of key files",
    long_about = "Print a JWK Set ({\"keys\": […]}) of the public halves of key files: JWKs \
        (private or public), JWK Sets, PEM or DER. Private members are removed. Each key keeps \
        its `kid`, or gets its RFC 7638 thumbprint as `kid` when it has none. Two keys with the \
        same `kid`, or an HMAC secret (which has no public half), are errors (exit 2).",
    after_help = "Examples:\n  \
        tessera jwks current.jwk next.jwk > jwks.json\n  \
        tessera jwks issuer.pem"
)]
pub(crate) struct JwksArgs {
    /// Key files.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

pub(crate) fn run(args: JwksArgs) -> Result<()> {
    let mut keys = Vec::new();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for path in &args.files {
        let public = KeyFile::read(path)
            .and_then(|file| file.public_jwks())
            .with_context(|| format!("key file {}", path.display()))?;
        for mut jwk in public {
            let kid = match &jwk.kid {
                Some(kid) => kid.clone(),
                None => jwk
                    .thumbprint()
                    .with_context(|| format!("key file {}", path.display()))?,
            };
            if let Some(first) = seen.get(&kid) {
                bail!(
                    "kid \"{kid}\" appears twice (in {} and {}); a JWK Set needs distinct kids",
                    first.display(),
                    path.display()
                );
            }
            seen.insert(kid.clone(), path.clone());
            jwk.kid = Some(kid);
            keys.push(jwk);
        }
    }
    output::json(&JwkSet::new(keys))
}
