"""The rules file, end to end: the deployment's functions are built with
tests/fixtures/rules/e2e.toml (conftest.E2E_RULES, through IAM_SENTINEL_RULES), next to the
RestrictedActions parameter the harness sets. Alert mode notifies and publishes and writes
nothing; enforce quarantines as always; off ignores; each kind of exemption lets a grant
through and is named; an expired one is named as expired and the grant is quarantined; a
resource scope the rule accepts is left alone next to one it does not. Every document gets the
same verdict from `iam-sentinel check --rules` with the same file and context."""

from __future__ import annotations

import json
import subprocess

import pytest
from harness.constants import ACCOUNT
from harness.processes import wait_until

from .conftest import E2E_RULES
from .expect import headlines, outcomes
from .incidents import ASSUME_EC2, as_document, fixture, fresh_ids, managed_policy_event, unique

DELETE_SECRET = "secretsmanager:DeleteSecret"
CI_DEPLOY = f"arn:aws:iam::{ACCOUNT}:role/e2e-ci-deploy"


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def allow(actions, resource="*", sid=None) -> dict:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resource}
    return {"Sid": sid, **statement} if sid else statement


class Change:
    """One change made in IAM and its CloudTrail event, with what the exemptions match it on:
    a customer managed policy created (`path`, `name`, `actor` as given), or an inline policy
    put on a role of its own (`role`)."""

    def __init__(self, h, text: str, *, name: str | None = None, path: str = "/",
                 actor: str | None = None, role: str | None = None):
        self.h, self.text, self.actor = h, text, actor
        self.policy_arn = self.principal = None
        if role:
            self.event = fresh_ids(fixture("put-role-policy.json"))
            params = self.event["detail"]["requestParameters"]
            params.update(roleName=role, policyName=unique("rules"), policyDocument=text)
            h.iam.create_role(RoleName=role, AssumeRolePolicyDocument=ASSUME_EC2)
            h.iam.put_role_policy(RoleName=role, PolicyName=params["policyName"],
                                  PolicyDocument=text)
            self.principal = f"arn:aws:iam::{ACCOUNT}:role/{role}"
        else:
            name = name or unique("rules")
            self.event = managed_policy_event(name, text)
            self.policy_arn = h.iam.create_policy(PolicyName=name, Path=path,
                                                  PolicyDocument=text)["Policy"]["Arn"]
            policy = self.event["detail"]["responseElements"]["policy"]
            policy.update(arn=self.policy_arn, path=path)
        if actor:
            session = actor.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")
            self.event["detail"]["userIdentity"] = {
                "type": "AssumedRole", "principalId": "AROAE2ECIDEPLOYEXAMPL:pipeline",
                "arn": f"{session}/pipeline", "accountId": ACCOUNT,
                "sessionContext": {"sessionIssuer": {
                    "type": "Role", "principalId": "AROAE2ECIDEPLOYEXAMPL", "arn": actor,
                    "accountId": ACCOUNT, "userName": actor.rsplit("/", 1)[1]}}}

    def run(self, ends: bool = True) -> tuple[str, dict]:
        """Starts the incident and waits for its assessment (and, `ends`, for its end; a
        quarantine waits for a decision): (execution ARN, the assessment)."""
        arn = self.h.start(unique("rules"), self.event)
        if ends:
            assert self.h.wait_done(arn) == "SUCCEEDED", f"execution {self.h.status(arn)}"
        analysed = wait_until("the assessment", lambda: self.h.state_output(arn, "Analyse"), 120)
        return arn, analysed["incident"]

    def in_iam(self):
        """What IAM holds now: the managed policy's (default, versions), or the inline document."""
        if self.policy_arn:
            return self.h.policy_state(self.policy_arn)
        params = self.event["detail"]["requestParameters"]
        return as_document(self.h.iam.get_role_policy(
            RoleName=params["roleName"], PolicyName=params["policyName"])["PolicyDocument"])

    def untouched(self) -> bool:
        if self.policy_arn:
            default, versions = self.in_iam()
            return default == "v1" and list(versions) == ["v1"]
        return self.in_iam() == json.loads(self.text)

    def cli(self) -> dict:
        """`iam-sentinel check --rules` on the same document, file and context: its report."""
        argv = [str(self.h.check.binary), "check", "--rules", str(E2E_RULES),
                "--restricted", self.h.stack.restricted_actions, "--format", "json"]
        for flag, value in (("--actor", self.actor), ("--principal", self.principal),
                            ("--policy-arn", self.policy_arn)):
            if value:
                argv += [flag, value]
        done = subprocess.run(argv + ["-"], input=self.text, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode in (0, 1), f"iam-sentinel check: {done.stderr[:2000]}"
        [checked] = json.loads(done.stdout)["files"]
        return checked


def grants(findings: list[dict]) -> set[tuple[int, str]]:
    return {(f["statement"], hit["restricted"]) for f in findings for hit in f["hits"]}


def named(grants_: list[dict]) -> set[tuple[int, str, str]]:
    return {(g["statement"], g["pattern"], g["exemption"]["name"]) for g in grants_}


def assert_the_cli_agrees(change: Change, incident: dict):
    """The service's verdict and grants are the CLI's for the same file, document and context."""
    checked = change.cli()
    cli_verdict = ("restricted" if checked.get("findings") else
                   "alerted" if checked.get("alerts") else
                   "exempted" if checked.get("exempted") else "clean")
    assert cli_verdict == incident["verdict"], \
        f"the CLI says {cli_verdict}, the service {incident['verdict']}: {checked}"
    for ours, theirs in (("findings", "findings"), ("alerted", "alerts")):
        assert grants(incident.get(ours, [])) == grants(checked.get(theirs, [])), \
            f"{ours}: service {incident.get(ours)}, CLI {checked.get(theirs)}"
    for kind in ("exempted", "expired"):
        assert named(incident.get(kind, [])) == named(checked.get(kind, [])), \
            f"{kind}: service {incident.get(kind)}, CLI {checked.get(kind)}"


def events_of(h, arn: str) -> list[dict]:
    """The execution's outcome events (waits, bounded, for one)."""
    def got():
        h.drain()
        return h.outcome_events(arn)
    return wait_until("the outcome event", got, 20)


def test_alert_mode_writes_nothing_and_still_notifies_and_publishes(h):
    """ssm:DeleteParameter is in an alert rule: the policy stays as created, the email and the
    event say which grant and which rule."""
    change = Change(h, document(allow(["ssm:GetParameter", "ssm:DeleteParameter"], sid="Ops")))
    arn, incident = change.run()
    assert incident["verdict"] == "alerted", f"verdict {incident['verdict']}"
    assert h.states_entered(arn) == ["Analyse", "CheckVerdict", "PublishAlerted", "Done"], \
        f"path {h.states_entered(arn)}"
    assert change.untouched(), f"IAM changed: {change.in_iam()}"
    notes, evs = h.published(arn, 1)
    assert outcomes(evs) == ["alerted"], f"outcome events: {outcomes(evs)}"
    assert headlines(notes) == ["Alert: restricted grant (alert mode)"], headlines(notes)
    assert 'statement 0 (Sid "Ops"): ssm:DeleteParameter' in notes[0], notes[0]
    assert [hit["restricted"] for f in evs[0]["detail"]["rules"]["alerted"]
            for hit in f["hits"]] == ["ssm:DeleteParameter"], evs[0]["detail"]
    assert_the_cli_agrees(change, incident)


def test_off_ignores_its_patterns(h):
    """sqs:DeleteQueue is in a rule that is off: clean, nothing written, nothing asked."""
    change = Change(h, document(allow("sqs:DeleteQueue")))
    arn, incident = change.run()
    assert incident["verdict"] == "clean", f"verdict {incident['verdict']}"
    assert "Quarantine" not in h.states_entered(arn) and change.untouched()
    assert_the_cli_agrees(change, incident)


def test_enforce_quarantines_and_an_expired_exemption_is_named_as_expired(h):
    """secretsmanager:DeleteSecret is enforced; the statement's Sid matches e2e-lapsed, which
    expired: quarantined as always (a new default version without the grant), and the
    quarantine's email and event name the exemption as expired."""
    change = Change(h, document(
        allow(["secretsmanager:GetSecretValue", DELETE_SECRET], sid="E2eLapsedCleanup")))
    arn, incident = change.run(ends=False)
    assert incident["verdict"] == "restricted", f"verdict {incident['verdict']}"
    assert [(g["exemption"]["name"], g["exemption"]["expires"]) for g in incident["expired"]] \
        == [("e2e-lapsed", "2020-01-31")], incident.get("expired")
    h.approval_email(arn)  # the quarantine is in place once approval is asked
    default, versions = change.in_iam()
    assert default == "v2", f"default {default}: not quarantined"
    assert h.check.granted(versions["v2"], [DELETE_SECRET, "secretsmanager:GetSecretValue"]) \
        == {"secretsmanager:GetSecretValue"}, versions["v2"]
    notes, evs = h.published(arn, 1)
    assert outcomes(evs) == ["quarantined"], outcomes(evs)
    assert 'exemption "e2e-lapsed" of data-team@example.com EXPIRED on 2020-01-31' in notes[0], \
        notes[0]
    assert evs[0]["detail"]["rules"]["expired"][0]["exemption"]["name"] == "e2e-lapsed"
    assert_the_cli_agrees(change, incident)


def test_an_acceptable_resource_scope_is_left_alone_next_to_one_that_is_not(h):
    """The rule accepts DeleteSecret on scratch/ secrets: of two statements, only the one on
    every secret is quarantined; the scratch one is in force, as written."""
    scratch = allow(DELETE_SECRET, f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:scratch/*",
                    sid="Scratch")
    everywhere = allow(DELETE_SECRET, sid="Everywhere")
    change = Change(h, document(scratch, everywhere))
    arn, incident = change.run(ends=False)
    assert incident["verdict"] == "restricted", f"verdict {incident['verdict']}"
    assert grants(incident["findings"]) == {(1, DELETE_SECRET)}, incident["findings"]
    h.approval_email(arn)
    default, versions = change.in_iam()
    assert default == "v2", f"default {default}: not quarantined"
    quarantined = versions["v2"]["Statement"]
    assert scratch in quarantined, f"the acceptable statement was changed: {quarantined}"
    others = [s for s in quarantined if s != scratch]
    assert not others or not h.check.grants({"Version": "2012-10-17", "Statement": others},
                                            DELETE_SECRET), quarantined
    assert_the_cli_agrees(change, incident)


EXEMPTIONS = {
    # kind: (the change, the exemption that lets its grant through)
    "actor": (lambda h: Change(h, document(allow(DELETE_SECRET)), actor=CI_DEPLOY),
              "e2e-ci-deploy"),
    "principal": (lambda h: Change(h, document(allow(DELETE_SECRET)),
                                   role=unique("e2e-break-glass")), "e2e-break-glass"),
    "policy ARN": (lambda h: Change(h, document(allow(DELETE_SECRET)),
                                    name=unique("e2e-platform-policy")), "e2e-platform-policy"),
    "policy path": (lambda h: Change(h, document(allow(DELETE_SECRET)), path="/e2e-platform/"),
                    "e2e-platform-path"),
    "Sid": (lambda h: Change(h, document(allow(DELETE_SECRET, sid="E2eTerraformStateKeys"))),
            "e2e-terraform-state"),
    "restricted pattern": (lambda h: Change(h, document(allow("kms:ScheduleKeyDeletion"))),
                           "e2e-key-deletion"),
}


@pytest.mark.parametrize("kind", list(EXEMPTIONS))
def test_each_kind_of_exemption_lets_the_grant_through_and_is_named(h, kind):
    """The enforced grant is covered by one exemption: nothing written, the exempted outcome
    published naming it (name, owner, reason, expiry), emailed only when clean changes are."""
    make, exemption = EXEMPTIONS[kind]
    change = make(h)
    arn, incident = change.run()
    assert incident["verdict"] == "exempted", f"verdict {incident['verdict']}"
    assert [g["exemption"]["name"] for g in incident["exempted"]] == [exemption], \
        incident["exempted"]
    assert h.states_entered(arn) == ["Analyse", "CheckVerdict", "PublishExempted", "Done"], \
        f"path {h.states_entered(arn)}"
    assert change.untouched(), f"IAM changed: {change.in_iam()}"
    evs = events_of(h, arn)
    assert outcomes(evs) == ["exempted"], outcomes(evs)
    named_there = evs[0]["detail"]["rules"]["exempted"][0]["exemption"]
    assert named_there["name"] == exemption and named_there["owner"] \
        and named_there["reason"] and named_there["expires"] == "2099-12-31", named_there
    notes = h.outcome_notifications(arn)
    assert len(notes) == (1 if h.stack.notify_on_clean_changes else 0), headlines(notes)
    assert_the_cli_agrees(change, incident)
