//! Whatever arrives (a form body, an id in a link, a history), the approval code answers with a
//! value or an error naming the problem: it never panics, and nothing it echoes is unescaped.

use approval::{
    ApprovalId, ApprovalKey, EventKind, HistoryEvent, Page, approval_requests, find_approval,
    parse_decision_form,
};
use proptest::prelude::*;
use time::macros::datetime;

proptest! {
    #[test]
    fn any_form_body_is_read_or_refused(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_decision_form(&body);
    }

    #[test]
    fn a_read_comment_is_one_line(comment in "\\PC{0,200}") {
        let body = format!(
            "key=k&decision=deny&comment={}",
            percent_encoding::utf8_percent_encode(&comment, percent_encoding::NON_ALPHANUMERIC)
        );
        if let Ok(form) = parse_decision_form(body.as_bytes()) {
            let line = form.comment.unwrap_or_default();
            prop_assert!(!line.contains('\n') && !line.contains('\r'));
        }
    }

    #[test]
    fn any_id_is_accepted_or_refused_and_an_accepted_one_survives_the_link(text in "\\PC{0,100}") {
        if let Ok(id) = ApprovalId::parse(&text) {
            let decoded = percent_encoding::percent_decode_str(&id.path_segment())
                .decode_utf8()
                .unwrap()
                .into_owned();
            prop_assert_eq!(decoded, text);
        }
    }

    #[test]
    fn any_recorded_parameters_are_read_or_reported(parameters in "\\PC{0,300}", key in "[A-Za-z0-9_-]{0,40}") {
        let events = [HistoryEvent {
            at: datetime!(2026-11-21 09:31:00 UTC),
            kind: EventKind::ApprovalScheduled { parameters, timeout_seconds: Some(60) },
        }];
        let _ = approval_requests(&events);
        let _ = find_approval(&events, Some(0), datetime!(2026-11-21 09:32:00 UTC));
        let _ = ApprovalKey::parse(&key);
    }

    #[test]
    fn a_problem_echoed_on_a_page_is_escaped(problem in "\\PC{0,200}") {
        let body = Page::BadRequest(problem.clone()).render().body;
        let echoed = body.split("<p>").nth(1).unwrap_or_default();
        prop_assert!(!echoed.split("</p>").next().unwrap_or_default().contains('<'));
    }
}
