//! `rules check FILE` and `check --rules FILE`: a rules file validated and shown as the
//! deployment reads it, and applied to documents (enforced grants fail, alerted ones are
//! reported, exempted ones named with their exemption). What the rules decide is specified on
//! the engine (`policy_engine::rules`); these tests own how the command line reports it.

use policy_engine::rules::Rules;
use policy_engine::{Catalog, presets};
use serde_json::{Value, json};

use crate::support::{
    EXIT_CLEAN, EXIT_INVALID, EXIT_RESTRICTED, TempDir, check, fixture, rules, rules_fixture,
    strings,
};

/// Today as the CLI reads it (UTC), as `rules check` spells dates.
fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

fn iso(date: time::Date) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    date.format(format).expect("a date formats")
}

/// platform.toml with its exemptions' expiry (2099-12-31, so that `check --rules` never sees
/// them lapse) moved to 90 days from today, written in `dir`: a file `rules check`, which
/// refuses an expiry more than a year ahead, passes on any day. Its path and that expiry.
fn platform_expiring_soon(dir: &TempDir) -> (String, String) {
    let expires = iso(today() + time::Duration::days(90));
    let text = std::fs::read_to_string(rules_fixture("platform.toml"))
        .expect("the fixture is readable")
        .replace("expires = 2099-12-31", &format!("expires = {expires}"));
    let path = dir.path().join("platform.toml");
    std::fs::write(&path, text).expect("the copy is written");
    (path.display().to_string(), expires)
}

fn digest(rules_file: &str, restricted: Option<&str>) -> String {
    let text = std::fs::read_to_string(rules_file).expect("the rules file is readable");
    let catalog = Catalog::embedded();
    let parameter = restricted
        .map(|r| policy_engine::RestrictedActions::parse(r, catalog).expect("a valid parameter"));
    Rules::parse(&text, catalog)
        .expect("a valid rules file")
        .with_parameter(parameter.as_ref())
        .digest()
        .to_owned()
}

/// `rules check` for people, byte for byte: each rule with its mode, presets and patterns
/// (the first ten), acceptable scopes; each exemption; the counts, enforce winning.
#[test]
fn rules_check_prints_the_effective_rules() {
    // GIVEN a valid rules file with every kind of rule and exemption
    let dir = TempDir::new("rules-check");
    let (file, expires) = platform_expiring_soon(&dir);

    // WHEN it is checked with the deployment's parameter
    let run = rules(&["check", "--restricted", "iam:PassRole", &file]);

    // THEN it is valid, and reads so
    assert_eq!(run.code, EXIT_CLEAN, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let preset = |name: &str| presets::get(name).expect("a preset");
    let first_ten = |name: &str| preset(name).actions[..10].join(", ");
    let escalation = preset("privilege-escalation");
    let destructive = preset("destructive");
    let expected = format!(
        "\
{file}: valid, digest {digest}
rule full-admin (line 5): enforce
  Nobody is granted every action outside the break-glass role
  preset full-admin: 1 pattern, version 1
  1 pattern:
    *
rule bucket-deletion (line 11): enforce
  1 pattern:
    s3:DeleteBucket
rule privilege-escalation (line 16): alert
  preset privilege-escalation: 24 patterns, version {escalation_version}
  24 patterns:
{escalation_patterns}
  acceptable where:
    every resource within arn:aws:iam::*:role/passable/* and iam:PassedToService restricted to
    lambda.amazonaws.com
rule destructive (line 25): off
  preset destructive: 230 patterns, version {destructive_version}
  230 patterns:
{destructive_patterns}
rule RestrictedActions (the RestrictedActions parameter): enforce
  the deployment's RestrictedActions parameter
  1 pattern:
    iam:PassRole
exemption preview-bucket-teardown (line 30): until {expires}, owner web-platform@example.com
  reason: Preview environments delete their own buckets when the pull request closes
  sid: TearDownPreviewBuckets
  rules: bucket-deletion
exemption ci-deploy-role (line 38): until {expires}, owner platform-team@example.com
  reason: Terraform applies the platform's reviewed IAM changes
  actor: arn:aws:iam::*:role/ci-deploy
  actions: iam:PassRole, iam:CreatePolicyVersion
  rules: every rule

5 rules (3 enforce, 1 alert, 1 off), 2 exemptions; effectively 3 patterns enforced, 23 patterns alerted
",
        digest = digest(&file, Some("iam:PassRole")),
        escalation_version = escalation.version,
        escalation_patterns = wrapped(&format!(
            "{} and 14 more (--format json lists them all)",
            first_ten("privilege-escalation")
        )),
        destructive_version = destructive.version,
        destructive_patterns = wrapped(&format!(
            "{} and 220 more (--format json lists them all)",
            first_ten("destructive")
        )),
    );
    assert_eq!(run.stdout, expected);
}

/// Words in lines of at most 96 characters after a four-space indent, as the CLI wraps.
fn wrapped(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && 4 + line.len() + 1 + word.len() > 96 {
            lines.push(format!("    {line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(format!("    {line}"));
    lines.join("\n")
}

#[test]
fn rules_check_as_json_lists_every_pattern_with_presets_expanded() {
    // GIVEN a valid rules file naming the privilege-escalation preset
    let dir = TempDir::new("rules-check-json");
    let (file, expires) = platform_expiring_soon(&dir);

    // WHEN it is checked with --format json
    let run = rules(&["check", "--format", "json", &file]);

    // THEN each rule has its patterns, presets expanded, and each exemption its fields
    assert_eq!(run.code, EXIT_CLEAN, "{}", run.stderr);
    let report = run.report();
    assert_eq!(report["valid"], true);
    assert_eq!(report["digest"], digest(&file, None));
    let escalation = &report["rules"][2];
    assert_eq!(escalation["name"], "privilege-escalation");
    assert_eq!(escalation["mode"], "alert");
    assert_eq!(
        strings(&escalation["patterns"]),
        presets::get("privilege-escalation")
            .expect("the preset")
            .actions
    );
    assert_eq!(
        escalation["acceptable"],
        json!([{"resources": ["arn:aws:iam::*:role/passable/*"],
                "conditions": {"iam:PassedToService": ["lambda.amazonaws.com"]}}])
    );
    assert_eq!(
        report["exemptions"][1],
        json!({
            "name": "ci-deploy-role",
            "owner": "platform-team@example.com",
            "reason": "Terraform applies the platform's reviewed IAM changes",
            "expires": expires,
            "expired": false,
            "line": 38,
            "actor": "arn:aws:iam::*:role/ci-deploy",
            "principal": null,
            "policy": null,
            "policyPath": null,
            "sid": null,
            "actions": ["iam:PassRole", "iam:CreatePolicyVersion"],
            "rules": [],
        })
    );
    assert_eq!(
        strings(&report["effective"]["enforced"]),
        ["*", "s3:DeleteBucket"]
    );
    assert_eq!(
        report["effective"]["alerted"]
            .as_array()
            .expect("alerted")
            .len(),
        24
    );
    assert_eq!(report["problems"], json!([]));
}

#[test]
fn every_refusal_names_the_file_the_line_the_column_and_the_problem() {
    let cases = [
        (
            "unknown-action.toml",
            "line 6, column 12: rule \"bucket-deletion\": restricted action \"s3:DeleteBuckets\" \
             matches no known IAM action (did you mean \"s3:DeleteBucket\"?)",
        ),
        (
            "exemption-without-owner.toml",
            "line 8, column 1: exemption \"tmp-bucket-janitor\" has no owner (required)",
        ),
        (
            "unknown-preset.toml",
            "line 6, column 12: rule \"escalation\": no preset is named \"privesc\" (there are: \
             privilege-escalation, credentials-exposure, resource-exposure, destructive, full-admin)",
        ),
        (
            "not-toml.toml",
            "line 5, column 8: string values must be quoted, expected literal string",
        ),
    ];
    for (name, problem) in cases {
        // GIVEN a rules file with one problem
        let file = rules_fixture(name);

        // WHEN it is checked, and when a document is checked against it
        let checked = rules(&["check", &file]);
        let applied = check(
            &["--rules", &file],
            &[&fixture("read-only-reports-bucket.json")],
        );

        // THEN both refuse it: exit 2, nothing on stdout, the file, line, column and problem
        for run in [checked, applied] {
            assert_eq!(run.code, EXIT_INVALID, "{name}");
            assert_eq!(run.stdout, "", "{name}");
            assert_eq!(run.stderr, format!("iam-sentinel: {file}: {problem}\n"));
        }
    }
}

#[test]
fn rules_check_refuses_an_expired_exemption_and_still_shows_the_rules() {
    // GIVEN a rules file whose only exemption expired on 2025-06-30
    let file = rules_fixture("expired-exemption.toml");

    // WHEN it is checked
    let run = rules(&["check", &file]);

    // THEN exit 2, the exemption marked expired, and the problem with its line
    assert_eq!(run.code, EXIT_INVALID);
    assert!(run.stdout.starts_with(&format!("{file}: INVALID, digest ")));
    assert!(run.stdout.contains(
        "exemption tmp-bucket-janitor (line 9): until 2025-06-30 (EXPIRED), owner data-platform@example.com\n"
    ));
    assert_eq!(
        run.stderr,
        format!(
            "iam-sentinel: {file}: line 9, column 1: exemption \"tmp-bucket-janitor\" expired on \
             2025-06-30 (owner data-platform@example.com): renew it with a new date, or remove it\n"
        )
    );
}

#[test]
fn rules_check_refuses_an_exemption_expiring_more_than_a_year_ahead() {
    // GIVEN a rules file whose exemption was meant to end in 2027 and says 2207
    let file = rules_fixture("far-expiry.toml");

    // WHEN it is checked
    let run = rules(&["check", &file]);

    // THEN exit 2, the rules still shown, and the problem with its line and the latest date
    assert_eq!(run.code, EXIT_INVALID);
    assert!(run.stdout.starts_with(&format!("{file}: INVALID, digest ")));
    let today = today();
    let latest = today
        .replace_year(today.year() + 1)
        .unwrap_or(today + time::Duration::days(365));
    assert_eq!(
        run.stderr,
        format!(
            "iam-sentinel: {file}: line 10, column 1: exemption \"tmp-bucket-janitor\" expires on \
             2207-01-01, more than a year after today ({}): a typo? renew an exemption at least \
             yearly: give a date up to {}\n",
            iso(today),
            iso(latest)
        )
    );
}

#[test]
fn rules_check_refuses_rules_that_restrict_nothing_unless_the_parameter_does() {
    // GIVEN a rules file whose every rule is off
    let file = rules_fixture("restricts-nothing.toml");

    // WHEN it is checked alone, and with the deployment's parameter
    let alone = rules(&["check", &file]);
    let with_parameter = rules(&["check", "--restricted", "s3:DeleteBucket", &file]);

    // THEN alone it is refused, naming the problem; the parameter restricts something
    assert_eq!(alone.code, EXIT_INVALID);
    assert!(
        alone
            .stdout
            .starts_with(&format!("{file}: INVALID, digest "))
    );
    assert!(
        alone.stderr.starts_with(&format!(
            "iam-sentinel: {file}: line 1, column 1: nothing is restricted: no rule is in \
             enforce or alert mode"
        )),
        "{}",
        alone.stderr
    );
    assert_eq!(with_parameter.code, EXIT_CLEAN, "{}", with_parameter.stderr);
    assert_eq!(with_parameter.stderr, "");
}

/// `check --rules` for people, byte for byte: enforced grants, then alerted ones, exempted
/// grants with their exemption, each hit naming its rule and mode.
#[test]
fn check_with_rules_for_people() {
    // GIVEN the platform's rules, and documents with an enforced, an alerted, an exempted and
    // an acceptable grant, and a clean one
    let rules_file = rules_fixture("platform.toml");
    let files = [
        fixture("one-statement-per-service.json"),
        fixture("bucket-deletion-only-in-third-statement.json"),
        fixture("pass-role-to-lambda-only.json"),
    ];
    let paths: Vec<&str> = files.iter().map(String::as_str).collect();

    // WHEN they are checked against the rules
    let run = check(&["--rules", &rules_file], &paths);

    // THEN an enforced grant fails the check, and each grant says under which rule
    assert_eq!(run.code, EXIT_RESTRICTED, "{}", run.stderr);
    let expected = format!(
        r#"{0}: GRANTS RESTRICTED ACTIONS
  statement 1 (Sid "CleanUpScratchBuckets"), on Resource arn:aws:s3:::acme-scratch-*, arn:aws:s3:::acme-scratch-*/*:
    s3:DeleteBucket  [exact] Action "s3:DeleteBucket" names it (rule bucket-deletion, enforce)
      grants s3:DeleteBucket
  alerted (reported, not failing):
  statement 2 (Sid "PassDeployRole"), on Resource arn:aws:iam::123456789012:role/acme-deploy:
    iam:PassRole  [exact] Action "iam:PassRole" names it (rule privilege-escalation, alert)
      grants iam:PassRole
{1}: alerts only: grants actions of alert rules (reported, not failing)
  statement 1 (Sid "DeployPreviewFunctions"), on Resource arn:aws:lambda:eu-west-1:123456789012:function:preview-*:
    lambda:UpdateFunctionCode  [exact] Action "lambda:UpdateFunctionCode" names it (rule privilege-escalation, alert)
      grants lambda:UpdateFunctionCode
  exempted:
    statement 2 (Sid "TearDownPreviewBuckets"): s3:DeleteBucket of rule bucket-deletion: exemption "preview-bucket-teardown" (owner web-platform@example.com, until 2099-12-31: Preview environments delete their own buckets when the pull request closes)
{2}: ok, grants no restricted action

3 documents checked against the rules of {3}: 1 restricted, 1 alerted only, 1 clean, 0 invalid
"#,
        files[0], files[1], files[2], rules_file
    );
    assert_eq!(run.stdout, expected);
}

fn check_rules_json(args: &[&str], files: &[&str]) -> (i32, Value) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let run = check(&all, files);
    (run.code, run.report())
}

#[test]
fn alerted_grants_alone_do_not_fail_the_check() {
    // GIVEN a document whose only counted grant is of an alert rule
    let rules_file = rules_fixture("platform.toml");
    let policy = fixture("bucket-deletion-only-in-third-statement.json");

    // WHEN it is checked against the rules
    let (code, report) = check_rules_json(&["--rules", &rules_file], &[&policy]);

    // THEN exit 0, status "alerted", the alert naming its rule, no enforced finding
    assert_eq!(code, EXIT_CLEAN);
    let file = &report["files"][0];
    assert_eq!(file["status"], "alerted");
    assert_eq!(file["findings"], json!([]));
    assert_eq!(
        file["alerts"][0]["hits"][0]["restricted"],
        "lambda:UpdateFunctionCode"
    );
    assert_eq!(
        file["alerts"][0]["hits"][0]["rules"],
        json!(["privilege-escalation"])
    );
    assert_eq!(report["rules"]["digest"], digest(&rules_file, None));
}

#[test]
fn an_exemption_by_actor_applies_to_the_change_of_that_actor_only() {
    // GIVEN a grant of iam:PassRole, exempted for changes made by the CI deploy role
    let rules_file = rules_fixture("platform.toml");
    let policy = fixture("one-statement-per-service.json");

    // WHEN it is checked as the CI deploy role's change, and as anyone's
    let (_, by_ci) = check_rules_json(
        &[
            "--rules",
            &rules_file,
            "--actor",
            "arn:aws:iam::123456789012:role/ci-deploy",
        ],
        &[&policy],
    );
    let (_, by_anyone) = check_rules_json(&["--rules", &rules_file], &[&policy]);

    // THEN the CI's is exempted, naming the exemption; anyone's is alerted
    assert_eq!(
        by_ci["files"][0]["exempted"],
        json!([{
            "statement": 2,
            "sid": "PassDeployRole",
            "pattern": "iam:PassRole",
            "rule": "privilege-escalation",
            "exemption": {
                "name": "ci-deploy-role",
                "owner": "platform-team@example.com",
                "reason": "Terraform applies the platform's reviewed IAM changes",
                "expires": "2099-12-31",
            },
        }])
    );
    assert_eq!(by_ci["files"][0]["alerts"], json!([]));
    assert_eq!(by_anyone["files"][0]["exempted"], json!([]));
    assert_eq!(
        by_anyone["files"][0]["alerts"][0]["hits"][0]["restricted"],
        "iam:PassRole"
    );
}

#[test]
fn an_expired_exemption_no_longer_applies_and_is_named() {
    // GIVEN a grant an exemption covered until 2025-06-30
    let rules_file = rules_fixture("expired-exemption.toml");
    let policy = fixture("single-statement-object.json");

    // WHEN it is checked against the rules (which load: the service loads them too)
    let (code, report) = check_rules_json(&["--rules", &rules_file], &[&policy]);

    // THEN the grant is enforced, and the expired exemption named
    assert_eq!(code, EXIT_RESTRICTED);
    let file = &report["files"][0];
    assert_eq!(
        file["findings"][0]["hits"][0]["restricted"],
        "s3:DeleteBucket"
    );
    assert_eq!(
        file["expired"][0]["exemption"],
        json!({"name": "tmp-bucket-janitor", "owner": "data-platform@example.com",
               "reason": "The nightly janitor removes scratch buckets", "expires": "2025-06-30"})
    );
}

#[test]
fn restricted_with_rules_is_one_more_enforced_rule() {
    // GIVEN a grant of iam:PassRole, alerted by the rules file
    let rules_file = rules_fixture("platform.toml");
    let policy = fixture("one-statement-per-service.json");

    // WHEN the parameter restricts iam:PassRole as well
    let (code, report) = check_rules_json(
        &["--rules", &rules_file, "--restricted", "iam:PassRole"],
        &[&policy],
    );

    // THEN it is enforced, by the RestrictedActions rule (enforce wins over alert)
    assert_eq!(code, EXIT_RESTRICTED);
    let file = &report["files"][0];
    let enforced: Vec<(&Value, &Value)> = file["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .flat_map(|f| f["hits"].as_array().expect("hits"))
        .map(|h| (&h["restricted"], &h["rules"]))
        .collect();
    assert_eq!(
        enforced,
        [
            (&json!("s3:DeleteBucket"), &json!(["bucket-deletion"])),
            (&json!("iam:PassRole"), &json!(["RestrictedActions"])),
        ]
    );
    assert_eq!(file["alerts"], json!([]));
}

#[test]
fn fix_with_rules_quarantines_the_enforced_grants_only() {
    // GIVEN a document with an enforced grant (s3:DeleteBucket) and an alerted one (iam:PassRole)
    let rules_file = rules_fixture("platform.toml");
    let policy = fixture("one-statement-per-service.json");

    // WHEN it is checked with --fix
    let (_, report) = check_rules_json(&["--rules", &rules_file, "--fix"], &[&policy]);

    // THEN the quarantine removes the enforced grant and keeps the alerted one
    let document = report["files"][0]["quarantine"]["document"].to_string();
    assert!(!document.contains("s3:DeleteBucket"), "{document}");
    assert!(document.contains("iam:PassRole"), "{document}");
}

#[test]
fn check_needs_restricted_patterns_or_a_rules_file() {
    // WHEN a document is checked with neither
    let run = check(&[], &[&fixture("read-only-reports-bucket.json")]);

    // THEN clap refuses it, naming the flag (exit 2, clap's usage error)
    assert_eq!(run.code, EXIT_INVALID);
    assert!(
        run.stderr.contains("--restricted <PATTERNS>"),
        "{}",
        run.stderr
    );
}

/// `check` and `scan` read a rules file as the functions do: rules that restrict nothing, with
/// no parameter, are refused (the functions would not start), and a blank parameter beside a
/// rules file is no parameter (the README's alert-mode deployment sets `RestrictedActions=''`).
#[test]
fn check_and_scan_read_the_rules_and_the_parameter_as_the_functions_do() {
    let nothing = rules_fixture("restricts-nothing.toml");
    let alerting = rules_fixture("alert-mode.toml");
    let policy = fixture("my-bad-policy-aws-5-mins.json");
    let account = crate::support::account_fixture("cli-output.json");

    let refused = [
        check(&["--rules", &nothing], &[&policy]),
        crate::support::scan(&["--rules", &nothing], &account, None),
    ];
    for run in refused {
        assert_eq!(run.code, EXIT_INVALID, "{}", run.stdout);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        assert_eq!(
            run.stderr,
            format!(
                "iam-sentinel: {nothing}: {}\n",
                policy_engine::rules::NOTHING_RESTRICTED
            )
        );
    }

    let blank_beside_rules = [
        crate::support::check_with_env(
            &["--rules", &alerting],
            &[&policy],
            &[("RESTRICTED_ACTIONS", "")],
        ),
        check(&["--rules", &alerting, "--restricted", " "], &[&policy]),
    ];
    for run in blank_beside_rules {
        assert_eq!(run.code, EXIT_CLEAN, "{}", run.stderr);
        assert!(run.stdout.contains("alert"), "{}", run.stdout);
    }
}

/// TOML skips a byte-order mark, and so do the functions, which read the rules file with the
/// same parser: `rules check` accepts what deploys.
#[test]
fn a_rules_file_with_a_byte_order_mark_is_read_as_the_deployment_reads_it() {
    let dir = TempDir::new("bom-rules");
    let text = std::fs::read_to_string(rules_fixture("alert-mode.toml")).expect("the fixture");
    let file = dir.path().join("rules.toml");
    std::fs::write(&file, format!("\u{feff}{text}")).expect("written");
    let run = rules(&["check", &file.display().to_string()]);
    assert_eq!(run.code, EXIT_CLEAN, "{}", run.stderr);
}
