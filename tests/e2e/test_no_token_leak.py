"""A task token is the power to decide, whoever holds it. Runs last (marker runs_last): it looks
at everything every other test of the session produced, on every deployment started."""

from __future__ import annotations

import json
import re

import pytest

from .driver import event_detail, is_approval_request

TOKEN_FIELD = re.compile(r'"taskToken"\s*:\s*"([^"\\]+)"')


@pytest.mark.runs_last
def test_no_task_token_leaks_into_any_email_event_link_page_or_log(h, deployments, note):
    """No task token in an email, an outcome event, a link or URL, a page or form, the
    approval server's log, the router's log or any function's (cargo lambda watch) log; no
    approval key in any log but the browser's own; the approval server logs no query string;
    one approval email per approval request."""
    executions = [(d, arn) for d in deployments for arn in d.all_executions()]
    tokens: set[str] = set()
    requests: dict[str, tuple] = {}
    for d, arn in executions:
        for e in d.history(arn):
            if is_approval_request(e):
                requests[arn] = (d, requests.get(arn, (d, 0))[1] + 1)
            for value in event_detail(e).values():
                if isinstance(value, str):
                    tokens.update(TOKEN_FIELD.findall(value))
    # The same tokens as the functions received them (a cross-check of the histories').
    from_invocations = {t for d in deployments for i in d.stack.router.invocations
                        for t in TOKEN_FIELD.findall(i["payload"])}
    assert from_invocations <= tokens, \
        f"{len(from_invocations - tokens)} tokens were passed to functions but not found in the histories"
    assert len(tokens) >= len(requests), f"{len(tokens)} tokens for {len(requests)} approval requests"
    texts: list[tuple[str, str]] = []
    logs, images, keys, browser_logs = [], [], set(), set()
    for d in deployments:
        d.drain()
        texts += [("email", n) for n in d.notifications]
        texts += [("outcome event", json.dumps(e)) for e in d.events]
        texts += d.texts
        keys |= d.keys
        prefix = "" if d is h else f"{d.stack.run_dir.name}/"
        browser_logs |= {prefix + name for name in d.browser_logs}
        for f in sorted(d.stack.run_dir.iterdir()):
            if f.is_file() and f.suffix == ".png":
                images.append(prefix + f.name)  # the browser test's screenshots
            elif f.is_file():
                logs.append((f"file {prefix}{f.name}", f.read_text(errors="replace")))
    texts += logs
    leaks = sorted({(what, t[:8]) for what, text in texts for t in tokens if t in text})
    assert not leaks, f"task tokens found in: {leaks[:10]}{' ...' if len(leaks) > 10 else ''}"
    # The browser's own log (ChromeDriver) holds the URLs it opened, so the person's link and
    # key, like a browser history: no token may be there, a key may.
    key_leaks = sorted({name for name, text in logs for k in keys
                        if k in text and name[5:] not in browser_logs})
    assert not key_leaks, f"approval keys found in: {key_leaks}"
    for d in deployments:
        server_log = (d.stack.run_dir / "approval-server.log").read_text()
        assert "key=" not in server_log and "?" not in server_log, \
            f"the approval server's log has a query string ({d.stack.run_dir.name})"
        assert server_log.strip() or not d.texts, \
            f"the approval server logged nothing of the requests made ({d.stack.run_dir.name})"
    for arn, (d, n) in requests.items():
        emails = len(d.approval_emails(arn))
        assert emails == n, f"{arn.rsplit(':', 1)[1]}: {emails} approval emails for {n} approval requests"
    all_texts = [t for d in deployments for t in d.texts]
    browser = [what for what, _ in all_texts if what.startswith("browser ")]
    note(f"{len(tokens)} task tokens (from {len(executions)} executions' histories, "
         f"{len(requests)} with an approval request; {len(deployments)} deployments) checked "
         f"against {len(texts)} texts, {sum(len(t) for _, t in texts) / 1e6:.1f} MB: "
         f"{sum(len(d.notifications) for d in deployments)} emails, "
         f"{sum(len(d.events) for d in deployments)} outcome events, "
         f"{len(all_texts)} links/URLs/pages/forms ({len(keys)} approval links; "
         f"{browser.count('browser page')} pages and {browser.count('browser URL')} URLs from "
         f"the browser), {len(logs)} files in the run directories "
         f"({', '.join(name[5:] for name, _ in logs)})"
         + (f"; not read: {len(images)} screenshots" if images else ""))
