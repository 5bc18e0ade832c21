//! `protected-api`: the example API, serving until interrupted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tessera_guard::Verifier;

/// An example API protected by tessera: `/public`, `/me` (any valid token), `/admin` (role admin).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Args {
    /// The issuer whose access tokens are accepted (its `iss`).
    #[arg(
        long,
        env = "PROTECTED_API_ISSUER",
        default_value = "http://127.0.0.1:7070"
    )]
    issuer: String,
    /// The audience the tokens must be for (the issuer's `audience` setting).
    #[arg(long, env = "PROTECTED_API_AUDIENCE", default_value = "tessera")]
    audience: String,
    /// The issuer's JWKS URL; without it, found through the issuer's discovery document.
    #[arg(long, env = "PROTECTED_API_JWKS_URL")]
    jwks_url: Option<String>,
    /// Where to listen.
    #[arg(long, env = "PROTECTED_API_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Cache this many verified tokens (0: verify every request).
    #[arg(long, default_value_t = 0)]
    cache: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut builder = Verifier::builder().issuer(protected_api::issuer(
        &args.issuer,
        &args.audience,
        args.jwks_url.as_deref(),
    ));
    if args.cache > 0 {
        builder = builder.cache(args.cache, Duration::from_secs(60));
    }
    let verifier = builder.build().context("configuring the verifier")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    println!(
        "protected-api on http://{} trusting {} (audience {})",
        listener.local_addr()?,
        args.issuer,
        args.audience
    );
    axum::serve(listener, protected_api::app(Arc::new(verifier)))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
}
