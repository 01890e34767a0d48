//! What justifies a write (threat model T1): a writer acts only on the state its own step was
//! entered with, in a running execution, as the history records it.

use incident::history::{EventKind, HistoryEvent, NotThisStep, entered_state};
use time::macros::datetime;

fn event(kind: EventKind) -> HistoryEvent {
    HistoryEvent {
        at: datetime!(2026-11-21 09:31:00 UTC),
        kind,
    }
}

fn entered(name: &str, input: &str) -> HistoryEvent {
    event(EventKind::StateEntered {
        name: name.into(),
        input: Some(input.into()),
    })
}

fn exited(name: &str) -> HistoryEvent {
    event(EventKind::StateExited { name: name.into() })
}

#[test]
fn a_writer_reads_the_input_of_its_own_step_and_nothing_else() {
    let waiting = [
        entered("Analyse", "{}"),
        exited("Analyse"),
        entered("CheckVerdict", "{}"),
        exited("CheckVerdict"),
        entered("Quarantine", r#"{"incident":1}"#),
    ];
    // (case, history, the state asked for, expected)
    type Case = (
        &'static str,
        Vec<HistoryEvent>,
        &'static str,
        Result<&'static str, NotThisStep>,
    );
    let cases: Vec<Case> = vec![
        (
            "in its step",
            waiting.to_vec(),
            "Quarantine",
            Ok(r#"{"incident":1}"#),
        ),
        (
            "in its step, retried (Lambda events in between)",
            [
                waiting.to_vec(),
                vec![event(EventKind::Other), event(EventKind::Other)],
            ]
            .concat(),
            "Quarantine",
            Ok(r#"{"incident":1}"#),
        ),
        (
            "asked as Restore while the execution is in Quarantine",
            waiting.to_vec(),
            "Restore",
            Err(NotThisStep::OtherState {
                expected: "Restore".into(),
                current: "Quarantine".into(),
            }),
        ),
        (
            "its step is over",
            [waiting.to_vec(), vec![exited("Quarantine")]].concat(),
            "Quarantine",
            Err(NotThisStep::OtherState {
                expected: "Quarantine".into(),
                current: "none: it has just left Quarantine".into(),
            }),
        ),
        (
            "the execution has ended",
            [waiting.to_vec(), vec![event(EventKind::ExecutionEnded)]].concat(),
            "Quarantine",
            Err(NotThisStep::Ended),
        ),
        (
            "nothing entered yet",
            vec![event(EventKind::Other)],
            "Quarantine",
            Err(NotThisStep::OtherState {
                expected: "Quarantine".into(),
                current: "none yet".into(),
            }),
        ),
        (
            "its step recorded without its input",
            vec![event(EventKind::StateEntered {
                name: "Quarantine".into(),
                input: None,
            })],
            "Quarantine",
            Err(NotThisStep::NoInput("Quarantine".into())),
        ),
        (
            "a later step entered with the same name is the one that counts",
            [
                waiting.to_vec(),
                vec![
                    exited("Quarantine"),
                    entered("Quarantine", r#"{"incident":2}"#),
                ],
            ]
            .concat(),
            "Quarantine",
            Ok(r#"{"incident":2}"#),
        ),
    ];
    for (case, history, asked, expected) in cases {
        assert_eq!(entered_state(&history, asked), expected, "{case}");
    }
}
