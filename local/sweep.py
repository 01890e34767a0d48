"""make sweep: the account sweep on this machine, as it runs in AWS.

    .venv/bin/python local/sweep.py
    make sweep

The local stack (local/harness/) starts with its trigger; then a grant is made whose CloudTrail
event never arrives (an inline policy granting s3:DeleteBucket, put straight into IAM with no
event: a lost event). The first sweep is the baseline: it reports the grant and quarantines
nothing. The second finds it again, claims it in the decision record and sends its finding to
the starter's queue: the workflow quarantines it and asks for approval, like any event's
incident. Both summaries are printed (the emailed text). The stack's logs go to
local/.runs/<run>/.

Exit status: 0 when the baseline quarantined nothing and the second sweep's incident
quarantined the grant, 1 otherwise, 130 on Ctrl-C.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

USER, POLICY = "sweep-demo-user", "lost-event-cleanup"
DOCUMENT = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "Cleanup", "Effect": "Allow", "Action": ["s3:DeleteBucket", "s3:ListBucket"],
     "Resource": "*"}]})


def say(line: str):
    print(f"[sweep] {line}", flush=True)


def main() -> int:
    with harness.LocalStack(quiet=True) as stack:
        say(f"starting the local stack (logs in {stack.run_dir}); the first build takes minutes")
        stack.warm_up()
        stack.deploy_trigger()
        iam = stack.client("iam")
        iam.create_user(UserName=USER)
        iam.put_user_policy(UserName=USER, PolicyName=POLICY, PolicyDocument=DOCUMENT)
        say(f"put {POLICY} on user {USER} straight into IAM: its event never arrives")
        for round_ in ("baseline", "second"):
            summary = stack.sweep("make sweep")
            say(f"{round_} sweep: {json.dumps(summary, indent=2)}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            now = iam.get_user_policy(UserName=USER, PolicyName=POLICY)["PolicyDocument"]
            if "s3:DeleteBucket" not in json.dumps(now):
                say(f"quarantined: {USER}'s {POLICY} no longer grants s3:DeleteBucket; an "
                    "approval request was emailed (see the run's logs)")
                return 0
            time.sleep(1)
        say("the second sweep's incident did not quarantine the grant within 2 minutes")
        return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
