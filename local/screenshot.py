"""The README's approval pictures and sample email, from a real run: the local stack (moto
executing the real ASL, the real Rust handlers), the walkthrough's bad policy, the approval email
the workflow sends, and the real page in headless Chromium, before and after pressing Approve.

    .venv/bin/python local/screenshot.py          # or: make screenshots

Writes
    docs/approval-email.txt        the email (subject and body; the key is shown as <key>, the
                                   host as a deployed HTTP API's)
    docs/approval-page.png         the page on a desktop (1280 CSS px wide, the whole page)
    docs/approval-page-phone.png   the page on a phone (412 CSS px wide, device scale factor 2)
    docs/approval-approved.png     the answer to pressing Approve (a real form POST by Chromium)

Chromium and ChromeDriver come from Debian (`apt-get install -y chromium chromium-driver`; `make
screenshots` installs them when missing) and are driven by Selenium WebDriver (requirements-dev.txt),
started and stopped by local/browser.py (shared with the e2e run): the Approve button is really
pressed, and the page is captured whole at an exact viewport through ChromeDriver's DevTools
commands.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import struct
import sys
import time
import uuid
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser as local_browser  # noqa: E402
import harness  # noqa: E402
from harness import wait_until  # noqa: E402

ROOT = harness.ROOT
DOCS = ROOT / "docs"
FIXTURE = ROOT / "tests" / "fixtures" / "events" / "create-policy.json"
# How the link looks when deployed (template.yaml: https://${ApprovalApi}.execute-api...).
DEPLOYED_URL = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
COMMENT = "Needed for the bucket migration, OPS-1234"


def say(msg: str):
    print(f"[screenshot {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------ the browser

def viewport(driver: webdriver.Chrome, width: int, height: int, scale: float = 1,
             mobile: bool = False):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile})


def screenshot(driver: webdriver.Chrome, path: Path, width: int, scale: float = 1,
               mobile: bool = False, min_height: int = 0) -> tuple[int, int]:
    """The whole page at `width` CSS px: the viewport is made as tall as the content (laid out
    at that width, from a short viewport, as the content is at least the viewport's height), so
    nothing is cut and nothing blank is added."""
    height = 100
    for _ in range(2):  # a taller viewport can reflow: measure again
        viewport(driver, width, height, scale, mobile)
        time.sleep(0.3)
        m = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        height = max(int(m.get("cssContentSize", m.get("contentSize"))["height"] + 0.999),
                     min_height)
    viewport(driver, width, height, scale, mobile)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    path.write_bytes(base64.b64decode(shot["data"]))
    w, h = struct.unpack(">II", path.read_bytes()[16:24])  # the PNG's IHDR
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path  # --out elsewhere
    say(f"wrote {shown}: {w}x{h} px ({path.stat().st_size // 1024} KiB), "
        f"{width}x{height} CSS px at scale {scale}")
    return w, h


# ------------------------------------------------------------------ the run

def approval_email(stack, sqs, queue_url: str, arn: str, timeout: float = 60) -> tuple[str, str]:
    """(subject, body) of the approval email for the execution, from a queue subscribed
    without raw delivery (the SNS envelope has the subject)."""
    def got():
        for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                     WaitTimeSeconds=1).get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            envelope = json.loads(m["Body"])
            body = envelope.get("Message", "")
            if body.startswith("Approval needed: ") and f"\nExecution: {arn}\n" in body:
                return envelope.get("Subject", ""), body
        return None
    return wait_until("the approval email", got, timeout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DOCS, help="where to write (default docs/)")
    ap.add_argument("--build-timeout", type=float, default=900,
                    help="seconds for the first invoke (debug build), default 900")
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    event = json.loads(FIXTURE.read_text())
    params = event["detail"]["requestParameters"]
    document = json.loads(params["policyDocument"])
    assert params["policyName"] == "my-bad-policy-aws-5-mins", params["policyName"]
    assert document["Statement"][0]["Sid"] == "VisualEditor0"
    assert sorted(document["Statement"][0]["Action"]) == sorted(
        ["s3:GetBucketObjectLockConfiguration", "s3:DeleteObjectVersion", "s3:DeleteBucket"])

    with harness.LocalStack(approval_timeout_hours=24) as stack:
        stack.warm_up(first_timeout=args.build_timeout)
        sns, sqs, iam = stack.client("sns"), stack.client("sqs"), stack.client("iam")
        sfn = stack.client("stepfunctions")
        # The stack reads notifications raw; this queue gets the envelope, with the subject.
        queue_url = sqs.create_queue(QueueName="local-screenshot-emails")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=stack.topic_arn, Protocol="sqs", Endpoint=queue_arn,
                      Attributes={"RawMessageDelivery": "false"})
        policy_arn = iam.create_policy(PolicyName=params["policyName"],
                                       PolicyDocument=params["policyDocument"])["Policy"]["Arn"]
        assert policy_arn == event["detail"]["responseElements"]["policy"]["arn"], policy_arn
        # EventBridge starts executions without a name, so AWS names them with a UUID.
        arn = stack.start_incident(str(uuid.uuid4()), event)
        say(f"execution {arn}")
        subject, body = approval_email(stack, sqs, queue_url, arn)
        m = re.search(r"Review and decide: (\S+)", body)
        if not m:
            raise SystemExit(f"no link in the approval email:\n{body}")
        link = m.group(1)
        key = link.split("?key=", 1)[1]
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", key), "the key is not 43 base64url characters"
        assert link.startswith(f"{stack.approval_url}/approvals/"), link
        sample = (f"Subject: {subject}\n\n{body}"
                  .replace(key, "<key>").replace(stack.approval_url, DEPLOYED_URL))
        assert key not in sample and stack.approval_url not in sample
        (out / "approval-email.txt").write_text(sample if sample.endswith("\n") else sample + "\n")
        say(f"wrote {(out / 'approval-email.txt')}: {len(sample.splitlines())} lines")

        try:
            driver, profile = local_browser.start_browser(stack.run_dir, say=say)
        except local_browser.BrowserMissing as e:
            raise SystemExit(str(e)) from None
        try:
            viewport(driver, 1280, 800)
            driver.get(link)
            if "Approval needed" not in driver.title:
                raise SystemExit(f"the link did not open the review page: {driver.title!r}")
            shots = {"approval-page.png": screenshot(driver, out / "approval-page.png", 1280)}
            shots["approval-page-phone.png"] = screenshot(
                driver, out / "approval-page-phone.png", 412, scale=2, mobile=True)
            # A person types a comment and presses Approve: a real form POST by the browser.
            viewport(driver, 1280, 1000)
            comment = driver.find_element(By.ID, "comment")
            comment.send_keys(COMMENT)
            assert comment.get_attribute("value") == COMMENT, comment.get_attribute("value")
            local_browser.click_and_wait(
                driver, driver.find_element(By.CSS_SELECTOR, 'button[value="approve"]'))
            if driver.title != "iam-sentinel: Approved":
                raise SystemExit(f"pressing Approve gave {driver.title!r}, not the Approved page")
            shots["approval-approved.png"] = screenshot(
                driver, out / "approval-approved.png", 1280, min_height=240)
        finally:
            local_browser.stop_browser(driver, profile, say=say)
        status = wait_until("the execution to finish",
                            lambda: (s := sfn.describe_execution(executionArn=arn)["status"]) != "RUNNING" and s,
                            120)
        default = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        say(f"execution {status}; the policy's default version is {default} (v1: restored)")
        if status != "SUCCEEDED" or default != "v1":
            raise SystemExit("the approval did not restore the policy")
    for name, (w, h) in shots.items():
        print(f"{out / name}: {w}x{h}")
    print(out / "approval-email.txt")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
