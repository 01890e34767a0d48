"""The `RestrictedActions` parameter as CloudFormation checks it before a deployment: the quarantine
boundary and every quarantine write its patterns into a `NotAction`, where IAM expects a service
prefix, so its `AllowedPattern` takes a pattern only with its service named (the functions refuse
the others at start-up too: `restricted::check_pattern`).
"""
import re

import pytest
from harness.template import read_template


@pytest.fixture(scope="module")
def allowed():
    parameter = read_template()["Parameters"]["RestrictedActions"]
    # CloudFormation matches the whole value (Java's `matches`).
    return lambda value: re.fullmatch(parameter["AllowedPattern"], value) is not None


@pytest.mark.parametrize("value", [
    "",
    "s3:DeleteBucket,s3:DeleteObject",
    "iam:*,s3:Delete*,kms:ScheduleKeyDeletion",
    "IAM:Create*,s3:Put?ucketPolicy,s3express:DeleteBucket",
    "vpc-lattice:AssociateViaAWSService-EventsAndStates",
])
def test_a_list_of_named_services_is_taken(allowed, value):
    assert allowed(value)


@pytest.mark.parametrize("value", [
    "*:DeleteBucket",
    "s3*:Delete*",
    "iam:*,s?:DeleteBucket",
    "*:*",
    "s3:DeleteBucket, iam:*",
    "s3:DeleteBucket,",
    "DeleteBucket",
])
def test_a_wildcard_in_a_service_or_a_malformed_list_is_refused(allowed, value):
    assert not allowed(value)
