//! Picks the rules file the functions are built with: `$IAM_SENTINEL_RULES` (an absolute path)
//! when set, else `rules.toml` at the workspace root. `sam build` runs cargo in each function's
//! directory inside this workspace, so the same file is found there.
//!
//! It reads the file as the functions will: one they would refuse at start-up fails the build,
//! naming its line and column. What `iam-sentinel rules check` refuses beyond that (an expired
//! exemption, one expiring more than a year ahead, one that exempts nothing, rules that restrict
//! nothing) is a warning, as the deployment loads such a file: whether anything is restricted
//! also depends on the RestrictedActions parameter, which only the functions see (they refuse
//! to start when nothing is).

use std::path::{Path, PathBuf};

use policy_engine::{Catalog, Rules};

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
    check(&file);
    println!("cargo:rustc-env=IAM_SENTINEL_RULES_FILE={}", file.display());
}

/// Refuses a file the functions would refuse; warns of what `rules check` refuses (today, UTC:
/// the day of this build).
fn check(file: &Path) {
    let name = file.display();
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("the rules file {name} cannot be read: {e}"));
    let rules = Rules::parse(&text, Catalog::embedded())
        .unwrap_or_else(|e| panic!("the rules file {name}, {e}"));
    for problem in rules.problems(time::OffsetDateTime::now_utc().date()) {
        println!("cargo:warning=the rules file {name}, {problem}");
    }
}

/// crates/deployed-rules -> the workspace root.
fn workspace_root(manifest: &Path) -> PathBuf {
    manifest
        .ancestors()
        .nth(2)
        .expect("crates/deployed-rules is two levels below the workspace root")
        .to_path_buf()
}
