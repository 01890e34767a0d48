//! `iam-sentinel check`: the policy engine on the command line, for CI pipelines that vet policy
//! documents before they ever reach AWS; `iam-sentinel scan`: the same analysis per user and
//! role of a whole account, offline.

mod locate;
mod presets;
mod report;
mod rules;
mod sarif;
mod scan;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use policy_engine::document::MAX_DOCUMENT_BYTES;
use policy_engine::rules::{Context, NOTHING_RESTRICTED};
use policy_engine::{AuthorizationDetails, Catalog, PolicyKind, RestrictedActions, Rules};
use time::Date;

use crate::presets::Listing;
use crate::report::{Against, FileReport, FileStatus, Report, RulesRun};
use crate::sarif::Origin;
use crate::scan::Scan;

/// The engine allocates for every statement and finding; mimalloc serves that about a tenth
/// faster than glibc (docs/BENCHMARKS.md). `benches/engine.rs` times the engine with the same.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The file name that reads standard input.
pub const STDIN: &str = "-";

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
    /// Exit status: 0 when no document grants a restricted action (with --rules: an enforced
    /// one; alerted grants are reported and do not fail), 1 when any does, 2 on invalid input
    /// (unreadable file, invalid policy or rules file, unknown restricted pattern) or output
    /// that cannot be written.
    Check(CheckArgs),
    /// Find every user and role of an account that can perform restricted actions.
    ///
    /// Reads the JSON that `aws iam get-account-authorization-details` prints. Each principal's
    /// access is the union of its inline, attached and group policies, less what an
    /// unconditional Deny of any of them or its permissions boundary removes.
    ///
    /// With --rules, each grant is classified as the deployed account sweep classifies it: a
    /// pattern of an enforce rule, of an alert rule only, or covered by an exemption (named,
    /// with its owner, reason and expiry); an expired exemption is named where it no longer
    /// covers a grant.
    ///
    /// Exit status: 0 when no principal can perform a restricted action (with --rules: one of
    /// an enforce rule; alerted and exempted grants are reported and do not fail), 1 when any
    /// can, 2 on invalid input (unreadable file, invalid JSON, policy or rules file, unknown
    /// restricted pattern) or output that cannot be written.
    Scan(ScanArgs),
    /// Rules files and the presets they can name.
    #[command(subcommand)]
    Rules(RulesCommand),
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate a rules file and print its effective rules.
    ///
    /// Reads the file as the deployment does (every problem with its line and column), and
    /// also refuses expired exemptions. Prints each rule (mode, presets expanded, patterns,
    /// acceptable scopes) and each exemption (owner, reason, expiry, what it matches).
    /// Exit status: 0 when the file is valid, 2 when it is not.
    Check(RulesCheckArgs),
    /// List the presets a rule can name: what each holds, its version, sources and licences.
    ///
    /// Without NAME, every preset with its number of actions; with NAME, that one with its
    /// sources' notes and every action. Exit status: 0, or 2 for an unknown NAME.
    Presets(PresetsArgs),
}

#[derive(clap::Args)]
struct RulesCheckArgs {
    /// The deployment's RestrictedActions parameter, as one more enforced rule.
    #[arg(long, value_name = "PATTERNS")]
    restricted: Option<String>,

    /// Output for people, or one JSON document.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// The rules file (TOML); `-` reads standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(clap::Args)]
struct PresetsArgs {
    /// Output for people, or one JSON document (every preset's actions included).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// A preset's name, in any case (e.g. privilege-escalation).
    #[arg(value_name = "NAME")]
    name: Option<String>,
}

#[derive(clap::Args)]
struct ScanArgs {
    /// Comma-separated restricted action patterns, exactly as for `check`. With --rules, one
    /// more enforced rule, as the parameter is in the deployment.
    #[arg(
        long,
        env = "RESTRICTED_ACTIONS",
        value_name = "PATTERNS",
        required_unless_present = "rules"
    )]
    restricted: Option<String>,

    /// A rules file (TOML): each grant is classified as the deployed account sweep classifies
    /// it (enforced, alerted, exempted; expired exemptions named).
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,

    /// Output for people, or one JSON document for pipelines.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// The output of `aws iam get-account-authorization-details`; `-` reads standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Comma-separated restricted action patterns, exactly as the RestrictedActions deployment
    /// parameter (e.g. "s3:DeleteBucket,iam:*"). `*` and `?` wildcards; case-insensitive.
    /// With --rules, one more enforced rule, as the parameter is in the deployment.
    #[arg(
        long,
        env = "RESTRICTED_ACTIONS",
        value_name = "PATTERNS",
        required_unless_present = "rules"
    )]
    restricted: Option<String>,

    /// A rules file (TOML): modes, presets, acceptable scopes and exemptions, applied as the
    /// deployment applies it.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,

    /// With --rules: who makes the change (an ARN; repeat for the role behind an assumed-role
    /// session), for the exemptions that name an actor.
    #[arg(long, value_name = "ARN", requires = "rules")]
    actor: Vec<String>,

    /// With --rules: the user, role or group the documents are attached to, for the exemptions
    /// that name a principal.
    #[arg(long, value_name = "ARN", requires = "rules")]
    principal: Option<String>,

    /// With --rules: the managed policy's ARN, for the exemptions that name a policy or a
    /// policy path.
    #[arg(long, value_name = "ARN", requires = "rules")]
    policy_arn: Option<String>,

    /// Output for people, one JSON document for pipelines, or a SARIF 2.1.0 log for
    /// code-scanning tools (each finding at its statement's line and column).
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    format: CheckFormat,

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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CheckFormat {
    Human,
    Json,
    Sarif,
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
    match Cli::parse().command {
        Command::Check(args) => check(args),
        Command::Scan(args) => scan(args),
        Command::Rules(RulesCommand::Presets(args)) => list_presets(args),
        Command::Rules(RulesCommand::Check(args)) => check_rules(args),
    }
}

fn list_presets(args: PresetsArgs) -> ExitCode {
    let listing = match Listing::of(args.name.as_deref()) {
        Ok(listing) => listing,
        Err(reason) => {
            eprintln!("iam-sentinel: {reason}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let output = match args.format {
        Format::Human => listing.human(),
        Format::Json => listing.json() + "\n",
    };
    match emit(&output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// The restricted list (`--restricted` or `RESTRICTED_ACTIONS`). Beside a rules file a blank
/// one is none, as the deployment reads a blank `RestrictedActions` parameter; alone it is an
/// error.
fn restricted(
    list: Option<&str>,
    with_rules: bool,
    catalog: &Catalog,
) -> Result<Option<RestrictedActions>, ExitCode> {
    let list = list.filter(|list| !(with_rules && list.trim().is_empty()));
    list.map(|list| {
        RestrictedActions::parse(list, catalog).map_err(|e| {
            eprintln!("iam-sentinel: {}: {e}", restricted_source());
            ExitCode::from(EXIT_INVALID)
        })
    })
    .transpose()
}

/// Where the restricted list came from, for its errors: clap takes `--restricted` over
/// `RESTRICTED_ACTIONS`.
fn restricted_source() -> &'static str {
    let given = std::env::args_os().any(|arg| {
        arg.to_str()
            .is_some_and(|arg| arg == "--restricted" || arg.starts_with("--restricted="))
    });
    if given {
        "--restricted"
    } else {
        "RESTRICTED_ACTIONS"
    }
}

/// Writes the command's output. A reader that stops early (`| head`) is not an error; any other
/// failure to write (a full disk, a closed descriptor) is, or the exit status would vouch for
/// findings nobody got.
fn emit(output: &str) -> Result<(), ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("iam-sentinel: cannot write the output: {e}");
            Err(ExitCode::from(EXIT_INVALID))
        }
        _ => Ok(()),
    }
}

fn scan(args: ScanArgs) -> ExitCode {
    let catalog = Catalog::embedded();
    let restricted = match restricted(args.restricted.as_deref(), args.rules.is_some(), catalog) {
        Ok(restricted) => restricted,
        Err(code) => return code,
    };
    let rules_file = args.rules.as_ref().map(|p| p.display().to_string());
    let rules = match &args.rules {
        Some(path) => read_rules(path, restricted.as_ref(), catalog)
            .and_then(|rules| restricting_something(rules, restricted.is_some(), path)),
        // `--restricted` alone (clap requires one of the two): the parameter's rule alone.
        None => Ok(Rules::of_parameter(
            restricted
                .as_ref()
                .expect("--restricted is given without --rules"),
        )),
    };
    let rules = match rules {
        Ok(rules) => rules,
        Err(code) => return code,
    };
    let name = args.file.display();
    let scan = read(&args.file, MAX_ACCOUNT_FILE_BYTES)
        .map_err(|e| format!("cannot read it: {e}"))
        // JSON readers may ignore a byte-order mark (RFC 8259), which Windows PowerShell's
        // `Out-File -Encoding utf8` writes.
        .and_then(|text| {
            AuthorizationDetails::from_json(text.strip_prefix('\u{feff}').unwrap_or(&text))
                .map_err(|e| e.to_string())
        })
        .and_then(|details| Scan::of(&details, &rules, rules_file.as_deref(), today(), catalog));
    let scan = match scan {
        Ok(scan) => scan,
        Err(reason) => {
            eprintln!("iam-sentinel: {name}: {reason}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let output = match args.format {
        Format::Human => scan.human(),
        Format::Json => scan.json() + "\n",
    };
    if let Err(code) = emit(&output) {
        return code;
    }
    for scanned in &scan.principals {
        if let Err(reason) = &scanned.verdict {
            eprintln!(
                "iam-sentinel: {name}: {}: {reason}",
                scanned.policies.principal
            );
        }
    }
    ExitCode::from(exit_status(scan.any_invalid(), scan.any_restricted()))
}

fn exit_status(invalid: bool, restricted: bool) -> u8 {
    if invalid {
        EXIT_INVALID
    } else if restricted {
        EXIT_RESTRICTED
    } else {
        0
    }
}

fn check(args: CheckArgs) -> ExitCode {
    if args.fix && args.format == CheckFormat::Sarif {
        eprintln!("iam-sentinel: --fix has no SARIF form: use --format human or json");
        return ExitCode::from(EXIT_INVALID);
    }
    let catalog = Catalog::embedded();
    let restricted = match restricted(args.restricted.as_deref(), args.rules.is_some(), catalog) {
        Ok(restricted) => restricted,
        Err(code) => return code,
    };
    let rules = match &args.rules {
        Some(path) => match read_rules(path, restricted.as_ref(), catalog)
            .and_then(|rules| restricting_something(rules, restricted.is_some(), path))
        {
            Ok(rules) => Some((path.display().to_string(), rules)),
            Err(code) => return code,
        },
        None => None,
    };
    let against = match (&rules, &restricted) {
        (Some((name, rules)), _) => Against::Rules(RulesRun {
            name: name.clone(),
            rules,
            context: Context {
                actor: args.actor.iter().map(String::as_str).collect(),
                principal: args.principal.as_deref(),
                policy: args.policy_arn.as_deref(),
            },
            today: today(),
        }),
        (None, Some(restricted)) => Against::Restricted(restricted),
        (None, None) => unreachable!("clap requires --restricted or --rules"),
    };
    let size_limit = PolicyKind::from(args.kind).size_limit();
    let files = args
        .files
        .iter()
        .map(|path| match read(path, MAX_POLICY_FILE_BYTES) {
            // IAM refuses it (U+FEFF is outside its characters); read on, it would be "not
            // valid JSON" in a file that visibly starts with `{`.
            Ok(text) if text.starts_with('\u{feff}') => FileReport::of(
                path.clone(),
                FileStatus::Invalid(
                    "it starts with a byte-order mark (U+FEFF), which IAM refuses: save it as \
                     UTF-8 without one"
                        .into(),
                ),
            ),
            Ok(text) => FileReport::check(
                path.clone(),
                &text,
                &against,
                catalog,
                args.fix.then_some(size_limit),
            ),
            Err(e) => FileReport::of(
                path.clone(),
                FileStatus::Invalid(format!("cannot read it: {e}")),
            ),
        })
        .collect();
    let report = Report {
        against: &against,
        catalog,
        files,
    };
    let status = exit_status(report.any_invalid(), report.any_restricted());
    let output = match args.format {
        CheckFormat::Human => report.human(),
        CheckFormat::Json => report.json() + "\n",
        CheckFormat::Sarif => match std::env::current_dir() {
            Ok(working_directory) => {
                let origin = Origin {
                    working_directory: &working_directory,
                };
                report.sarif(&origin, status) + "\n"
            }
            Err(e) => {
                eprintln!("iam-sentinel: cannot read the working directory: {e}");
                return ExitCode::from(EXIT_INVALID);
            }
        },
    };
    if let Err(code) = emit(&output) {
        return code;
    }
    for file in &report.files {
        if let FileStatus::Invalid(reason) = &file.status {
            eprintln!("iam-sentinel: {}: {reason}", file.name);
        }
    }
    ExitCode::from(status)
}

/// A rules file read (with `restricted` as one more enforced rule), or the reason it cannot be,
/// with its line and column, on stderr.
fn read_rules(
    path: &Path,
    restricted: Option<&RestrictedActions>,
    catalog: &Catalog,
) -> Result<Rules, ExitCode> {
    let name = path.display();
    let text = read(path, MAX_RULES_FILE_BYTES).map_err(|e| {
        eprintln!("iam-sentinel: {name}: cannot read it: {e}");
        ExitCode::from(EXIT_INVALID)
    })?;
    let rules = Rules::parse(&text, catalog).map_err(|e| {
        eprintln!("iam-sentinel: {name}: {e}");
        ExitCode::from(EXIT_INVALID)
    })?;
    Ok(rules.with_parameter(restricted))
}

/// Rules that restrict something, with the parameter or without: the functions refuse to start
/// with neither, so a check against them would pass what no deployment runs.
fn restricting_something(rules: Rules, parameter: bool, path: &Path) -> Result<Rules, ExitCode> {
    if rules.restricts_nothing() && !parameter {
        eprintln!("iam-sentinel: {}: {NOTHING_RESTRICTED}", path.display());
        return Err(ExitCode::from(EXIT_INVALID));
    }
    Ok(rules)
}

fn check_rules(args: RulesCheckArgs) -> ExitCode {
    let catalog = Catalog::embedded();
    let restricted = match restricted(args.restricted.as_deref(), true, catalog) {
        Ok(restricted) => restricted,
        Err(code) => return code,
    };
    let rules = match read_rules(&args.file, restricted.as_ref(), catalog) {
        Ok(rules) => rules,
        Err(code) => return code,
    };
    let today = today();
    let name = args.file.display().to_string();
    let checked = rules::Checked {
        name: &name,
        rules: &rules,
        problems: rules.problems(today),
        today,
    };
    let output = match args.format {
        Format::Human => checked.human(),
        Format::Json => checked.json() + "\n",
    };
    if let Err(code) = emit(&output) {
        return code;
    }
    for problem in &checked.problems {
        eprintln!("iam-sentinel: {name}: {problem}");
    }
    if checked.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    }
}

/// Today in UTC: an exemption applies through its expiry day.
fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

/// The largest input each command reads: a policy document is at most
/// `MAX_DOCUMENT_BYTES` (white space around it aside); an account's authorization details run to
/// hundreds of megabytes in a large account. A larger input (`/dev/zero`, a glob that caught a
/// disk image) is refused before it fills the memory.
const MAX_POLICY_FILE_BYTES: u64 = 2 * MAX_DOCUMENT_BYTES as u64;
const MAX_RULES_FILE_BYTES: u64 = 1 << 20;
const MAX_ACCOUNT_FILE_BYTES: u64 = 1 << 30;

/// A file (`-`: standard input) as UTF-8 text of at most `limit` bytes, or why not, said so that
/// its author knows what to change.
fn read(path: &Path, limit: u64) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    if path.as_os_str() == STDIN {
        std::io::stdin().take(limit + 1).read_to_end(&mut bytes)?;
    } else {
        std::fs::File::open(path)?
            .take(limit + 1)
            .read_to_end(&mut bytes)?;
    }
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "it is over {limit} bytes, more than this command reads"
        )));
    }
    let encoding = |problem: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, problem);
    match bytes.as_slice() {
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => Err(encoding(
            "it is UTF-16 text (Windows PowerShell's `>` writes it): save it as UTF-8, e.g. \
             with `| Out-File -Encoding utf8NoBOM` (PowerShell 6 and later)",
        )),
        _ => String::from_utf8(bytes).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "it is not UTF-8 text: byte {} is not valid UTF-8",
                    e.utf8_error().valid_up_to()
                ),
            )
        }),
    }
}
