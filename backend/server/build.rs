//! Finds the dashboard's committed browser bundle (`frontend/bundle/`) and embeds it when it
//! was built from the very sources this binary renders its pages from: `SOURCES` beside it
//! must hold the digest of those sources, computed here the way `scripts/build-ui.sh`
//! computes it. A stale bundle is left out (the pages then render on the server only), so
//! the browser never hydrates a page with code from other sources.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What the bundle is built from, relative to the repository (`scripts/build-ui.sh` lists
/// the same).
const SOURCE_DIRS: [&str; 2] = ["frontend/src", "frontend/style"];
const SOURCE_FILES: [&str; 3] = ["frontend/Cargo.toml", "Cargo.lock", "scripts/build-ui.sh"];

fn main() {
    let repo =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../..");
    println!("cargo:rustc-check-cfg=cfg(hearth_bundle)");
    for dir in SOURCE_DIRS {
        println!("cargo:rerun-if-changed={}", repo.join(dir).display());
    }
    for file in SOURCE_FILES {
        println!("cargo:rerun-if-changed={}", repo.join(file).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        repo.join("frontend/bundle").display()
    );

    let digest = sources_digest(&repo);
    println!("cargo:rustc-env=HEARTH_UI_SOURCES={digest}");
    let bundle = repo.join("frontend/bundle");
    let stamp = std::fs::read_to_string(bundle.join("SOURCES")).unwrap_or_default();
    let complete = ["hearth_ui.js", "hearth_ui_bg.wasm"]
        .iter()
        .all(|f| bundle.join(f).is_file());
    if complete && stamp.split_whitespace().next() == Some(digest.as_str()) {
        println!("cargo:rustc-cfg=hearth_bundle");
    } else if complete {
        println!(
            "cargo:warning=frontend/bundle is stale (built from other sources): the dashboard \
             renders on the server only until scripts/build-ui.sh --commit rebuilds it"
        );
    }
}

/// `sha256sum` of each source file, in byte order of their paths, then the digest of that
/// listing: `find … | LC_ALL=C sort | xargs sha256sum | sha256sum`.
fn sources_digest(repo: &Path) -> String {
    let mut files: Vec<String> = SOURCE_FILES.iter().map(|f| (*f).to_owned()).collect();
    for dir in SOURCE_DIRS {
        walk(repo, dir, &mut files);
    }
    files.sort();
    let mut listing = String::new();
    for file in &files {
        let bytes = std::fs::read(repo.join(file)).unwrap_or_default();
        listing.push_str(&format!("{:x}  {file}\n", Sha256::digest(&bytes)));
    }
    format!("{:x}", Sha256::digest(listing.as_bytes()))
}

fn walk(repo: &Path, dir: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(repo.join(dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = format!("{dir}/{}", entry.file_name().to_string_lossy());
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(repo, &name, out),
            Ok(t) if t.is_file() => out.push(name),
            _ => {}
        }
    }
}
