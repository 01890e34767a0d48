"""Where things are, and the fixed identity of the local deployment (one account, one region)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
ASL_PATH = ROOT / "statemachine" / "remediation.asl.json"
TEMPLATE_PATH = ROOT / "template.yaml"
RUNS_DIR = ROOT / "local" / ".runs"

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK_NAME = "iam-sentinel"
# The policy writer and the only two sessions of it that are iam-sentinel's own writes (the
# template's WRITER_SESSION_ARNS): Lambda names a function's session after the function.
WRITER_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{STACK_NAME}-policy-writer"
WRITER_SESSION_ARNS = tuple(
    f"arn:aws:sts::{ACCOUNT}:assumed-role/{STACK_NAME}-policy-writer/{STACK_NAME}-{function}"
    for function in ("quarantine-policy", "restore-policy"))
# Every role of the stack, as the template names them (OWN_ROLE_NAMES).
OWN_ROLE_NAMES = tuple(f"{STACK_NAME}-{role}" for role in (
    "policy-writer", "analyse-change", "publish-outcome", "request-approval", "approval-api",
    "state-machine", "start-incident", "heartbeat", "sweep-account", "sweep-schedule"))
# The HMAC keys' aliases in moto (the template passes key ids; KMS takes either).
LINK_KEY_ALIAS = f"alias/{STACK_NAME}-approval-links"
DECISION_KEY_ALIAS = f"alias/{STACK_NAME}-decisions"
# The starter's queue, as eventbridge.deploy_trigger creates it (the sweep sends its findings
# there: the template's INCIDENT_QUEUE_URL).
INCIDENT_QUEUE_NAME = "local-incident-queue"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

# The detail-type CloudTrail's events carry on EventBridge.
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"

# Headers that belong to one hop and must not be forwarded.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "content-length",
}
