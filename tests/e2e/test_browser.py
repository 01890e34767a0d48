"""The approval page in a real browser: headless Chromium (Debian's chromium and chromedriver
through Selenium, local/browser.py). `make test` installs them; without them this test fails."""

from __future__ import annotations

import time

import browser as local_browser
from harness.processes import descendants

from .expect import comment_for, outcomes, wait_for_approval
from .incidents import ManagedPolicy, same_document


def test_the_emailed_link_in_chromium_shows_the_change_and_approve_restores_it(h, request, note):
    """The page shows the policy, the restricted action, both documents and both buttons; a
    comment is typed and Approve clicked; the answer says Approved and the policy is restored,
    with the browser's own user agent in the outcome. Screenshots of the page and the answer
    go to the run directory."""
    try:
        from selenium.webdriver.common.by import By
    except ImportError as e:
        raise AssertionError(f"the browser test needs Selenium ({e}): "
                             "pip install -r requirements-dev.txt (make test does)") from None
    try:  # before any incident: a missing browser fails here, clearly, and leaves nothing open
        local_browser.find_browser()
    except local_browser.BrowserMissing as e:
        raise AssertionError(f"no browser for the approval page: {e}") from None
    run_dir = h.stack.run_dir
    target = ManagedPolicy(h, "browser-approve")
    arn, _, (_, versions) = wait_for_approval(h, target, "browser-approve")
    link = h.approval_link(arn)
    comment = comment_for(request.node.name, "approve")
    shots = {"page": run_dir / "browser-approve-page.png",
             "answer": run_dir / "browser-approve-approved.png"}
    log_name = "chromedriver-e2e.log"
    h.browser_logs.add(log_name)
    say = lambda msg: None  # noqa: E731 (the test's lines are its result)
    driver, profile = local_browser.start_browser(run_dir, log_name=log_name, say=say)
    tree = [driver.service.process.pid, *descendants(driver.service.process.pid)]
    try:
        driver.get(link)
        h.texts.append(("browser URL", driver.current_url))
        h.texts.append(("browser page", driver.page_source))
        user_agent = driver.execute_script("return navigator.userAgent")
        assert driver.title == f"iam-sentinel: Approval needed: managed policy {target.name}", \
            f"the page's title: {driver.title!r}"
        text = driver.find_element(By.TAG_NAME, "body").text
        assert target.name in text, f"the page does not show the policy name {target.name}"
        assert "s3:DeleteBucket" in text, "the page does not show the restricted action s3:DeleteBucket"
        headings = [e.text for e in driver.find_elements(By.TAG_NAME, "h2")]
        assert "Original (as the change made it)" in headings \
            and "Quarantined (in force now)" in headings, f"the page's headings: {headings}"
        docs = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".docs pre")]
        assert len(docs) == 2 and same_document(docs[0], target.original) \
            and same_document(docs[1], versions["v2"]), \
            f"the page's documents are not the original and the quarantined one: {[d[:80] for d in docs]}"
        buttons = {b.get_attribute("value"): b
                   for b in driver.find_elements(By.CSS_SELECTOR, "form button")}
        assert sorted(buttons) == ["approve", "deny"] \
            and all(b.is_displayed() and b.is_enabled() for b in buttons.values()), \
            f"the page's buttons: {sorted(buttons)}"
        assert buttons["approve"].text.startswith("Approve") \
            and buttons["deny"].text.startswith("Deny"), \
            f"button labels: {[b.text for b in buttons.values()]}"
        box = driver.find_element(By.ID, "comment")
        box.send_keys(comment)
        assert box.get_attribute("value") == comment, \
            f"the comment box holds {box.get_attribute('value')!r}"
        local_browser.capture(driver, shots["page"], 1280)  # as it is about to be sent
        local_browser.click_and_wait(driver, buttons["approve"])  # the checks below say what came
        h.texts.append(("browser URL", driver.current_url))
        h.texts.append(("browser page", driver.page_source))
        assert driver.title == "iam-sentinel: Approved", f"after clicking Approve: {driver.title!r}"
        h1 = driver.find_element(By.TAG_NAME, "h1").text
        assert h1 == "Approved", f"the answer's heading: {h1!r}"
        assert "?" not in driver.current_url and "key=" not in driver.current_url, \
            f"the answer's URL carries a query string: {driver.current_url.split('?')[0]}?..."
        local_browser.capture(driver, shots["answer"], 1280, min_height=240)
    finally:
        local_browser.stop_browser(driver, profile, say=say)
        time.sleep(0.3)
    alive = local_browser.still_running(tree)
    assert not alive, f"browser processes still running after stop: {alive}"
    for what, path in shots.items():
        assert path.exists() and path.stat().st_size > 1000, f"no screenshot of the {what}: {path}"
    status = h.wait_done(arn)
    assert status == "SUCCEEDED", f"execution {status}"
    target.assert_restored(target.state())
    _, evs = h.published(arn, 2)
    assert outcomes(evs) == ["quarantined", "restored"], f"outcome events: {outcomes(evs)}"
    approval = evs[1]["detail"].get("approval") or {}
    assert approval.get("decision") == "approve" and approval.get("comment") == comment \
        and approval.get("userAgent") == user_agent and approval.get("sourceIp") == "127.0.0.1", \
        f"the outcome's approval: {approval} (browser user agent {user_agent!r})"
    note(f"Chromium {user_agent}; screenshots {shots['page']}, {shots['answer']}")
