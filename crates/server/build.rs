//! Build steps of the issuer crate:
//! - `sqlx::migrate!` embeds the migration files at compile time but cannot tell cargo to watch
//!   the folders for new files: this does.
//! - The hosted pages are assembled from one layout (`web/layout.html`) and their sources
//!   (`web/pages/*.html`) into `$OUT_DIR/pages/`, where `src/web/pages.rs` includes them: see
//!   `build/layout.rs` for the rules. A source that breaks them fails the build, naming the file.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

#[path = "build/layout.rs"]
mod layout;

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=build/layout.rs");
    println!("cargo:rerun-if-changed=web/layout.html");
    println!("cargo:rerun-if-changed=web/pages");

    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").ok_or("no CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("no OUT_DIR")?).join("pages");
    fs::create_dir_all(&out)?;

    let layout_path = manifest.join("web/layout.html");
    let layout = read(&layout_path)?;
    let mut sources: Vec<PathBuf> = fs::read_dir(manifest.join("web/pages"))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    sources.retain(|p| p.extension().is_some_and(|e| e == "html"));
    sources.sort();
    for source_path in sources {
        let source = read(&source_path)?;
        let page = layout::parse_source(&source)
            .and_then(|page| layout::assemble(&layout, &page))
            .map_err(|e| format!("{}: {e}", source_path.display()))?;
        let name = source_path
            .file_name()
            .ok_or("a page source without a name")?;
        fs::write(out.join(name), page)?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, Box<dyn Error>> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()).into())
}
