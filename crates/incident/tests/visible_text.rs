//! Text that someone else chose is shown as it really is (threat model T8): nothing in a user
//! agent or a comment can reorder or hide what a person reads.

use incident::{refusal_alert, visible};

#[test]
fn invisible_and_reordering_characters_are_written_out() {
    let cases = [
        ("plain text stays", "Mozilla/5.0 (X11)", "Mozilla/5.0 (X11)"),
        (
            "accents and other scripts stay",
            "résumé 日本 עברית",
            "résumé 日本 עברית",
        ),
        (
            "right-to-left override",
            "ok\u{202E}evorppa",
            "ok<U+202E>evorppa",
        ),
        ("isolates", "a\u{2066}b\u{2069}", "a<U+2066>b<U+2069>"),
        (
            "zero-width space and joiner",
            "ap\u{200B}pro\u{200D}ve",
            "ap<U+200B>pro<U+200D>ve",
        ),
        ("byte order mark", "\u{FEFF}deny", "<U+FEFF>deny"),
        ("soft hyphen", "de\u{00AD}ny", "de<U+00AD>ny"),
        ("tag characters", "x\u{E0041}", "x<U+E0041>"),
        ("a C1 control", "Sour\u{0085}ce", "Sour<U+0085>ce"),
        (
            "a supplementary variation selector",
            "Sour\u{E0100}ce",
            "Sour<U+E0100>ce",
        ),
        ("a format control", "Sour\u{1D173}ce", "Sour<U+1D173>ce"),
    ];
    for (case, text, shown) in cases {
        assert_eq!(visible(text), shown, "{case}");
    }
}

#[test]
fn a_refusal_alert_keeps_the_callers_text_on_one_short_line() {
    let forged = format!("arn:aws:states:x\nExecution: fine{}", "A".repeat(400));
    let alert = refusal_alert("restore-policy", &forged, "not this deployment's\r\nstep");
    assert!(alert.subject.len() < 100);
    let given = alert
        .body
        .lines()
        .find(|l| l.starts_with("Execution given: "))
        .expect("the execution line");
    assert!(given.ends_with("..."), "{given}");
    assert!(!alert.body.lines().any(|l| l.starts_with("Execution: fine")));
    assert!(
        alert
            .body
            .contains("Why it was refused: not this deployment's  step")
    );
}
