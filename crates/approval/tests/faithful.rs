//! The page and the decision show what was decided, faithfully (threat model T8): a comment or a
//! user agent cannot disguise text with characters that reorder or hide it.

use approval::{Page, parse_decision_form};
use incident::{Decision, DecisionRecord};
use time::macros::datetime;

#[test]
fn a_comment_is_recorded_with_its_invisible_characters_written_out() {
    // GIVEN a comment that would read "approved by CISO" once its override reorders it
    let body = "key=k&decision=deny&comment=%E2%80%AEOSIC+yb+devorppa";
    // WHEN the form is read
    let form = parse_decision_form(body.as_bytes()).unwrap();
    // THEN the override is shown, not obeyed
    assert_eq!(form.comment.as_deref(), Some("<U+202E>OSIC yb devorppa"));
}

#[test]
fn the_already_decided_page_shows_the_deciders_text_as_it_is() {
    let approval = DecisionRecord {
        decision: Decision::Deny,
        user_agent: Some("Mozilla\u{200B}/5.0 \u{2066}evil\u{2069}".into()),
        comment: Some("fine\u{FEFF}".into()),
        ..DecisionRecord::default()
    };
    let body = Page::AlreadyDecided {
        approval: &approval,
        at: datetime!(2026-11-21 09:40:00 UTC),
    }
    .render()
    .body;
    for shown in [
        "Mozilla&lt;U+200B&gt;/5.0 &lt;U+2066&gt;evil&lt;U+2069&gt;",
        "fine&lt;U+FEFF&gt;",
    ] {
        assert!(body.contains(shown), "{shown} not in {body}");
    }
    for hidden in ['\u{200B}', '\u{2066}', '\u{FEFF}'] {
        assert!(!body.contains(hidden), "{hidden:?} reached the page");
    }
}
