"""Many incidents at once, each decided by its own person through its own link."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from .expect import AFTER_APPROVE, AFTER_KEEP, TO_APPROVAL, outcomes
from .incidents import ManagedPolicy, unique
from .person import ANSWERS

INCIDENTS = 25


def test_25_incidents_at_once_are_each_decided_through_their_own_link(h, note):
    """25 managed policies, 25 executions started together, all waiting for approval; then
    each decided through its own emailed link (approve, deny, approve, ...) from 25 threads
    at once. Each link names its own execution; a key used on another execution's id is
    refused (403), on GET and on POST."""
    n = INCIDENTS
    t0 = time.monotonic()
    targets = [ManagedPolicy(h, f"load-{i:02d}") for i in range(n)]
    names = [unique(f"load-{i:02d}") for i in range(n)]
    t_start = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        arns = list(pool.map(lambda i: h.start(names[i], targets[i].event), range(n)))
    started = time.monotonic() - t_start
    for arn in arns:
        h.approval_token(arn, timeout=300)
    waiting = time.monotonic() - t_start
    for i, arn in enumerate(arns):
        entered = h.states_entered(arn)
        assert entered == TO_APPROVAL, f"{names[i]}: path {entered}"
    # Each approval email: its own execution (the `Execution:` line), policy and link.
    links = []
    for i, arn in enumerate(arns):
        emails = h.approval_emails(arn) or [h.approval_email(arn)]
        assert len(emails) == 1, f"{names[i]}: {len(emails)} approval emails"
        assert targets[i].name in emails[0], f"{names[i]}: the email does not name {targets[i].name}"
        links.append(h.approval_link(arn))  # checks it is .../approvals/<its own name>?key=
    assert len(set(links)) == n, f"{len(set(links))} distinct links for {n} executions"
    decisions = ["approve" if i % 2 == 0 else "deny" for i in range(n)]

    def decide(i: int):
        link, other = links[i], links[(i + 1) % n]
        base, other_key = link.split("?", 1)[0], other.split("?key=", 1)[1]
        t = time.monotonic()
        wrong = h.http("GET", f"{base}?key={other_key}")  # execution i's id, execution i+1's key
        page, form = h.open_page(link, [targets[i].name])
        forged = h.submit(page, form, decisions[i], key=other_key)
        answer = h.submit(page, form, decisions[i], f"{decisions[i]} in e2e load-25, incident {i}")
        return wrong.status, forged.status, answer, time.monotonic() - t

    t_decide = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        answers = list(pool.map(decide, range(n)))
    deciding = time.monotonic() - t_decide
    for i, (wrong, forged, answer, _) in enumerate(answers):
        assert wrong == 403, f"{names[i]}: GET with execution {(i + 1) % n}'s key: {wrong}, expected 403"
        assert forged == 403, f"{names[i]}: POST with execution {(i + 1) % n}'s key: {forged}, expected 403"
        assert answer.status == 200 and answer.h1 == ANSWERS[decisions[i]], \
            f"{names[i]}: POST {decisions[i]}: {answer!r}"
    statuses = [h.wait_done(arn, timeout=300) for arn in arns]
    done = time.monotonic() - t_start
    for i, arn in enumerate(arns):
        assert statuses[i] == "SUCCEEDED", f"{names[i]}: execution {statuses[i]}"
        entered = h.states_entered(arn)
        tail = (AFTER_APPROVE if decisions[i] == "approve" else AFTER_KEEP)[1:]
        assert entered[-len(tail):] == tail, f"{names[i]} ({decisions[i]}): path {entered[5:]}"
        default, versions = targets[i].state()
        if decisions[i] == "approve":
            assert default == "v1" and sorted(versions) == ["v1"], \
                f"{names[i]} approved: default {default}, versions {sorted(versions)}"
        else:
            assert default == "v2" and sorted(versions) == ["v1", "v2"], \
                f"{names[i]} denied: default {default}, versions {sorted(versions)}"
        _, evs = h.published(arn, 2)
        expected = ["quarantined", "restored" if decisions[i] == "approve" else "kept"]
        assert outcomes(evs) == expected, f"{names[i]}: outcome events {outcomes(evs)}, expected {expected}"
        approval = evs[1]["detail"].get("approval") or {}
        assert approval.get("decision") == decisions[i] \
            and approval.get("comment") == f"{decisions[i]} in e2e load-25, incident {i}", \
            f"{names[i]}: the outcome's approval is not its own: {approval}"
    took = sorted(a[3] for a in answers)
    note(f"{n} incidents: set-up {t_start - t0:.1f} s; {n} executions started in {started:.1f} s; "
         f"all waiting for approval after {waiting:.1f} s; {n} decided concurrently in "
         f"{deciding:.1f} s (per person: 4 requests, median {took[n // 2]:.1f} s, max "
         f"{took[-1]:.1f} s); all ended after {done:.1f} s; test wall time "
         f"{time.monotonic() - t0:.1f} s")
