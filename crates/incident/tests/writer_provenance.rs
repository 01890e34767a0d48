//! What justifies a write (threat model T1): a writer acts only on the state its own step was
//! entered with, in a running execution, as the history records it.

use incident::canonical_digest;
use incident::history::{
    EventKind, HistoryEvent, NotThisStep, StartRecord, entered_state, started_by_the_starter,
};
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

#[test]
fn a_writer_acts_only_in_an_execution_its_starter_recorded_with_that_input() {
    let started = |input: &str| {
        vec![
            event(EventKind::ExecutionStarted {
                input: Some(input.into()),
            }),
            entered("Analyse", input),
        ]
    };
    // Step Functions hands the input back re-serialised: the digest is of its canonical form.
    let input = r#"{"id":"e-1","detail":{"eventName":"AttachRolePolicy","b":1}}"#;
    let reserialised = r#"{ "detail": {"b": 1, "eventName": "AttachRolePolicy"}, "id": "e-1" }"#;
    let now = datetime!(2026-11-21 09:31:00 UTC);
    let record = |of: &str, expires_at| StartRecord {
        input_digest: canonical_digest(of).unwrap(),
        expires_at,
    };
    let tomorrow = datetime!(2026-11-22 09:31:00 UTC);
    let refused = |why: &str| Err(NotThisStep::NotStartedByTheStarter(why.into()));
    // (case, history, the starter's record under the execution's name, expected)
    type Case = (
        &'static str,
        Vec<HistoryEvent>,
        Option<StartRecord>,
        Result<(), NotThisStep>,
    );
    let cases: Vec<Case> = vec![
        (
            "recorded with this input",
            started(input),
            Some(record(input, tomorrow)),
            Ok(()),
        ),
        (
            "recorded with this input, handed back re-serialised",
            started(reserialised),
            Some(record(input, tomorrow)),
            Ok(()),
        ),
        (
            "started by hand: nothing recorded",
            started(input),
            None,
            refused("it recorded no start under the execution's name"),
        ),
        (
            "another input under a recorded name",
            started(r#"{"id":"e-2"}"#),
            Some(record(input, tomorrow)),
            refused("its record under the execution's name is of another input"),
        ),
        (
            "recorded, expired",
            started(input),
            Some(record(input, now)),
            refused("its record under the execution's name has expired"),
        ),
        (
            "a history without the execution's start",
            vec![entered("Analyse", input)],
            Some(record(input, tomorrow)),
            refused("the history holds no JSON input the execution started with"),
        ),
    ];
    for (case, events, record, expected) in cases {
        assert_eq!(
            started_by_the_starter(&events, record.as_ref(), now),
            expected,
            "{case}"
        );
    }
}
