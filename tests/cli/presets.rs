//! `rules presets [NAME]`: the presets a rule can name, what each holds and where it came from.

use policy_engine::presets;
use serde_json::json;

use crate::support::{EXIT_CLEAN, EXIT_INVALID, rules, strings};

/// One preset by name, byte for byte: its header, description, each source with its licence
/// and note, then every action.
#[test]
fn one_preset_for_people() {
    // GIVEN the full-admin preset, in another case
    // WHEN it is listed
    let run = rules(&["presets", "Full-Admin"]);

    // THEN
    assert_eq!(run.code, EXIT_CLEAN, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "\
full-admin: Full administrator, the pattern * (every action), version 1
  Every action, as AWS's AdministratorAccess policy grants it: only a statement whose Action
  matches every action of every service (* or *:*) hits it, not one that names many actions.
  source: AWS managed policies for job functions: Administrator, retrieved 2026-12-02
    https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_job-functions.html
    licence: not applicable: one pattern, nothing copied
    AdministratorAccess allows Action * on Resource *; the preset is that pattern, which the
    rules read as granting every action
  actions:
    *

"
    );
}

#[test]
fn the_listing_has_every_preset_with_its_size_version_and_sources_but_not_its_actions() {
    // GIVEN the embedded presets
    // WHEN they are listed
    let run = rules(&["presets"]);

    // THEN each has its header line and its sources, in order, and a count closes the list
    assert_eq!(run.code, EXIT_CLEAN, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let headers: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .collect();
    let mut expected: Vec<String> = presets::all()
        .iter()
        .map(|p| {
            let size = match p.actions {
                ["*"] => "the pattern * (every action)".to_owned(),
                actions => format!("{} actions", actions.len()),
            };
            format!("{}: {}, {size}, version {}", p.name, p.title, p.version)
        })
        .collect();
    expected.push("5 presets; `iam-sentinel rules presets NAME` lists one's actions.".to_owned());
    assert_eq!(headers, expected);
    for preset in presets::all() {
        for source in preset.sources {
            let line = format!("  source: {}, retrieved {}", source.name, source.retrieved);
            assert!(lines.contains(&line.as_str()), "{line}");
            assert!(lines.contains(&format!("    {}", source.url).as_str()));
        }
    }
    assert!(!lines.contains(&"  actions:"), "{}", run.stdout);
}

#[test]
fn the_json_listing_holds_every_field_and_action() {
    // GIVEN the privilege-escalation preset
    let preset = presets::get("privilege-escalation").expect("the preset");

    // WHEN it is listed as JSON
    let run = rules(&["presets", "privilege-escalation", "--format", "json"]);

    // THEN it is there field for field
    assert_eq!(run.code, EXIT_CLEAN, "{}", run.stderr);
    let listing = run.report();
    let [entry] = listing["presets"].as_array().expect("presets").as_slice() else {
        panic!("one preset expected:\n{listing:#}")
    };
    assert_eq!(entry["name"], "privilege-escalation");
    assert_eq!(entry["version"], preset.version);
    assert_eq!(strings(&entry["actions"]), preset.actions);
    assert!(strings(&entry["actions"]).contains(&"iam:PassRole"));
    let source = &preset.sources[0];
    assert_eq!(
        entry["sources"][0],
        json!({"name": source.name, "url": source.url, "licence": source.licence,
               "retrieved": source.retrieved, "note": source.note})
    );
}

#[test]
fn an_unknown_preset_is_refused_naming_the_known_ones() {
    // WHEN a preset that does not exist is listed
    let run = rules(&["presets", "privesc"]);

    // THEN exit 2, and the names to choose from
    assert_eq!(run.code, EXIT_INVALID);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "iam-sentinel: no preset named \"privesc\" (presets: privilege-escalation, \
         credentials-exposure, resource-exposure, destructive, full-admin)\n"
    );
}
