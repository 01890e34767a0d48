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
SENTINEL_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{STACK_NAME}-policy-writer"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

# The detail-type CloudTrail's events carry on EventBridge.
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"

# Headers that belong to one hop and must not be forwarded.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "content-length",
}
