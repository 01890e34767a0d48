//! Running the binary, and reading what it printed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

pub const EXIT_CLEAN: i32 = 0;
pub const EXIT_RESTRICTED: i32 = 1;
pub const EXIT_INVALID: i32 = 2;

/// What one run of the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The `--format json` report on stdout.
    pub fn report(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not a JSON report ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `iam-sentinel check ARGS FILES...` with no RESTRICTED_ACTIONS inherited from the
/// environment the tests run in.
pub fn check(args: &[&str], files: &[&str]) -> Run {
    run("check", args, files, &[], None, None)
}

/// Runs `iam-sentinel rules ARGS...`.
pub fn rules(args: &[&str]) -> Run {
    run("rules", args, &[], &[], None, None)
}

/// Runs `iam-sentinel check ARGS FILES...` in the working directory `dir`.
pub fn check_in(dir: &Path, args: &[&str], files: &[&str]) -> Run {
    run("check", args, files, &[], None, Some(dir))
}

/// Runs `iam-sentinel scan ARGS FILE`, with `input` on standard input when given.
pub fn scan(args: &[&str], file: &str, input: Option<&str>) -> Run {
    run("scan", args, &[file], &[], input, None)
}

/// Runs `iam-sentinel check ARGS -` with `input` on standard input.
pub fn check_stdin(args: &[&str], input: &str) -> Run {
    run("check", args, &["-"], &[], Some(input), None)
}

/// Runs `iam-sentinel check ARGS FILES...` with extra environment variables.
pub fn check_with_env(args: &[&str], files: &[&str], env: &[(&str, &str)]) -> Run {
    run("check", args, files, env, None, None)
}

fn run(
    subcommand: &str,
    args: &[&str],
    files: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
    dir: Option<&Path>,
) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_iam-sentinel"));
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command
        .arg(subcommand)
        .args(args)
        .args(files)
        .env_remove("RESTRICTED_ACTIONS")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the iam-sentinel binary runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input.as_bytes())
            .expect("the document is written to stdin");
    }
    let output = child.wait_with_output().expect("iam-sentinel finishes");
    Run {
        code: output
            .status
            .code()
            .expect("iam-sentinel exits rather than being killed"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// `check --restricted RESTRICTED --format json FILES...`: the exit code and the report.
pub fn check_json(restricted: &str, files: &[&str]) -> (i32, Value) {
    let run = check(&["--restricted", restricted, "--format", "json"], files);
    (run.code, run.report())
}

/// The path of `tests/fixtures/policies/NAME`: a policy document.
pub fn fixture(name: &str) -> String {
    fixture_in("policies", name)
}

/// The path of `tests/fixtures/rules/NAME`: a rules file.
pub fn rules_fixture(name: &str) -> String {
    fixture_in("rules", name)
}

/// The path of `tests/fixtures/account/NAME`: output of `aws iam get-account-authorization-details`.
pub fn account_fixture(name: &str) -> String {
    fixture_in("account", name)
}

fn fixture_in(directory: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(directory)
        .join(name);
    assert!(path.is_file(), "missing fixture {}", path.display());
    path.display().to_string()
}

pub fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("the fixture is readable")
}

/// A file under the system temp directory, unique to this process and call, removed on drop.
pub struct TempFile(PathBuf);

/// A directory under the system temp directory, unique to this process and call, removed
/// with what it holds on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path = unique_temp_path(name);
        std::fs::create_dir_all(&path).expect("the temp directory is made");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique_temp_path(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "iam-sentinel-cli-{}-{unique}-{name}",
        std::process::id()
    ))
}

impl TempFile {
    pub fn new(name: &str, contents: &str) -> TempFile {
        let path = unique_temp_path(name);
        std::fs::write(&path, contents).expect("the temp file is written");
        TempFile(path)
    }

    pub fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The report's entry for its only file.
pub fn only_file(report: &Value) -> &Value {
    let files = report["files"].as_array().expect("files is an array");
    assert_eq!(
        files.len(),
        1,
        "expected one file in the report:\n{report:#}"
    );
    &files[0]
}

pub fn findings(file: &Value) -> &[Value] {
    file["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings array in:\n{file:#}"))
}

/// The indexes of the statements a file's findings point at.
pub fn flagged_statements(file: &Value) -> Vec<u64> {
    findings(file)
        .iter()
        .map(|f| f["statement"].as_u64().expect("statement index"))
        .collect()
}

pub fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array of strings, got {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string"))
        .collect()
}
