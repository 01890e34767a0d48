//! Picks the rules file the functions are built with: `$IAM_SENTINEL_RULES` (an absolute path)
//! when set, else `rules.toml` at the workspace root. `sam build` runs cargo in each function's
//! directory inside this workspace, so the same file is found there.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=IAM_SENTINEL_RULES");
    let file = match std::env::var_os("IAM_SENTINEL_RULES").filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            if !path.is_absolute() {
                panic!(
                    "IAM_SENTINEL_RULES must be an absolute path, not {}",
                    path.display()
                );
            }
            path
        }
        None => {
            let manifest =
                PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
            workspace_root(&manifest).join("rules.toml")
        }
    };
    if !file.is_file() {
        panic!("the rules file {} does not exist", file.display());
    }
    println!("cargo:rerun-if-changed={}", file.display());
    println!("cargo:rustc-env=IAM_SENTINEL_RULES_FILE={}", file.display());
}

/// crates/deployed-rules -> the workspace root.
fn workspace_root(manifest: &Path) -> PathBuf {
    manifest
        .ancestors()
        .nth(2)
        .expect("crates/deployed-rules is two levels below the workspace root")
        .to_path_buf()
}
