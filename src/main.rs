//! `iam-sentinel check`: the policy engine on the command line, for CI pipelines that vet policy
//! documents before they ever reach AWS.

mod report;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use policy_engine::{Catalog, PolicyKind, RestrictedActions};

use crate::report::{FileReport, FileStatus, Report};

#[derive(Parser)]
#[command(
    name = "iam-sentinel",
    version,
    about = "Finds IAM policy grants of restricted actions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check policy documents for grants of restricted actions.
    ///
    /// Exit status: 0 when no document grants a restricted action, 1 when any does, 2 on
    /// invalid input (unreadable file, invalid policy, unknown restricted pattern).
    Check(CheckArgs),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Comma-separated restricted action patterns, exactly as the RestrictedActions deployment
    /// parameter (e.g. "s3:DeleteBucket,iam:*"). `*` and `?` wildcards; case-insensitive.
    #[arg(long, env = "RESTRICTED_ACTIONS", value_name = "PATTERNS")]
    restricted: String,

    /// Output for people, or one JSON document for pipelines.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// Also print the quarantined document: the narrowest rewrite that grants no restricted action.
    #[arg(long)]
    fix: bool,

    /// Where the documents live, which sets the size quota the rewrite must fit (--fix).
    #[arg(long, value_enum, default_value_t = Kind::Managed)]
    kind: Kind,

    /// Policy documents (raw or percent-encoded JSON); `-` reads standard input.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// Customer managed policy (6,144 characters).
    Managed,
    /// Inline policy of a user (2,048 characters, shared by all the user's inline policies).
    User,
    /// Inline policy of a group (5,120 characters).
    Group,
    /// Inline policy of a role (10,240 characters).
    Role,
}

impl From<Kind> for PolicyKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Managed => PolicyKind::Managed,
            Kind::User => PolicyKind::UserInline,
            Kind::Group => PolicyKind::GroupInline,
            Kind::Role => PolicyKind::RoleInline,
        }
    }
}

const EXIT_RESTRICTED: u8 = 1;
const EXIT_INVALID: u8 = 2;

fn main() -> ExitCode {
    let Command::Check(args) = Cli::parse().command;
    let catalog = Catalog::embedded();
    let restricted = match RestrictedActions::parse(&args.restricted, catalog) {
        Ok(restricted) => restricted,
        Err(e) => {
            eprintln!("iam-sentinel: --restricted: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let size_limit = PolicyKind::from(args.kind).size_limit();
    let files = args
        .files
        .iter()
        .map(|path| {
            let name = path.display().to_string();
            match read(path) {
                Ok(text) => FileReport::check(
                    name,
                    &text,
                    &restricted,
                    catalog,
                    args.fix.then_some(size_limit),
                ),
                Err(e) => FileReport {
                    name,
                    status: FileStatus::Invalid(format!("cannot read it: {e}")),
                },
            }
        })
        .collect();
    let report = Report {
        restricted: &restricted,
        catalog,
        files,
    };
    let output = match args.format {
        Format::Human => report.human(),
        Format::Json => report.json() + "\n",
    };
    // A reader that stops early (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(output.as_bytes());
    for file in &report.files {
        if let FileStatus::Invalid(reason) = &file.status {
            eprintln!("iam-sentinel: {}: {reason}", file.name);
        }
    }
    if report.any_invalid() {
        ExitCode::from(EXIT_INVALID)
    } else if report.any_restricted() {
        ExitCode::from(EXIT_RESTRICTED)
    } else {
        ExitCode::SUCCESS
    }
}

fn read(path: &PathBuf) -> std::io::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
    }
}
