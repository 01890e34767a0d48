"""The router enforces IAM's policy size and count quotas, which moto does not: a write the
functions make over them is refused as IAM refuses it (409 LimitExceeded), so the end-to-end
tests fail if the sentinel ever counted a quota differently from IAM. White space does not
count, inline policies of one principal count together, a policy being replaced does not count
twice, and an attachment or a membership IAM holds already is not counted again."""
import json
import subprocess

import boto3
import botocore.exceptions
import pytest

from harness.constants import CREDENTIALS, REGION, ROOT, VENV_BIN
from harness.router import Router

USER_QUOTA, MANAGED_QUOTA = 2048, 6144


@pytest.fixture(scope="module")
def iam(tmp_path_factory):
    """(a client of moto itself, a client whose calls go through the router)."""
    moto = subprocess.Popen([str(VENV_BIN / "python3"), str(ROOT / "local" / "moto_server.py"),
                             "-p", "0"], stdout=subprocess.PIPE, text=True)
    router = Router({}, tmp_path_factory.mktemp("router") / "router.log")
    try:
        router.moto_port = int(moto.stdout.readline())
        router.start()
        clients = [boto3.client("iam", region_name=REGION, endpoint_url=f"http://127.0.0.1:{port}",
                                aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
                   for port in (router.moto_port, router.port)]
        yield clients
    finally:
        router.stop()
        moto.terminate()
        moto.wait(10)


def document(size: int, indent: int = 0) -> str:
    """A policy of exactly `size` characters as IAM counts them, with `indent` spaces of white
    space added between its tokens."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::r/"}]}
    bare = len(json.dumps(policy, separators=(",", ":")))
    assert size >= bare, f"no document is smaller than {bare}"
    policy["Statement"][0]["Resource"] += "x" * (size - bare)
    text = json.dumps(policy, separators=(",", ":"))
    return text.replace(",", "," + " " * indent) if indent else text


def refused(call) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409, error
    return f"{error['Code']}: {error['Message']}"


def test_a_users_inline_policies_together_are_held_to_2048_characters(iam):
    moto, routed = iam
    moto.create_user(UserName="carol")
    moto.put_user_policy(UserName="carol", PolicyName="reports", PolicyDocument=document(1900))
    assert refused(lambda: routed.put_user_policy(
        UserName="carol", PolicyName="cleanup", PolicyDocument=document(USER_QUOTA - 1900 + 1))) \
        == "LimitExceeded: Maximum policy size of 2048 bytes exceeded for user carol"
    routed.put_user_policy(UserName="carol", PolicyName="cleanup",
                           PolicyDocument=document(USER_QUOTA - 1900, indent=40))
    # Replacing a policy counts its new document only.
    routed.put_user_policy(UserName="carol", PolicyName="reports", PolicyDocument=document(1900))
    assert sorted(moto.list_user_policies(UserName="carol")["PolicyNames"]) == ["cleanup", "reports"]


def test_a_managed_policy_version_is_held_to_6144_characters(iam):
    moto, routed = iam
    arn = moto.create_policy(PolicyName="wide", PolicyDocument=document(200))["Policy"]["Arn"]
    assert refused(lambda: routed.create_policy_version(
        PolicyArn=arn, PolicyDocument=document(MANAGED_QUOTA + 1), SetAsDefault=True)) \
        == f"LimitExceeded: Cannot exceed quota for PolicySize: {MANAGED_QUOTA}"
    routed.create_policy_version(PolicyArn=arn, PolicyDocument=document(MANAGED_QUOTA, indent=9),
                                 SetAsDefault=True)


def test_a_role_is_held_to_ten_managed_policies_as_moto_reports_the_quota(iam):
    moto, routed = iam
    assert moto.get_account_summary()["SummaryMap"]["AttachedPoliciesPerRoleQuota"] == 10
    moto.create_role(RoleName="crowded", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                               "Principal": {"Service": "ec2.amazonaws.com"}}]}))
    arns = [moto.create_policy(PolicyName=f"p{n}", PolicyDocument=document(200))["Policy"]["Arn"]
            for n in range(11)]
    for arn in arns[:10]:
        routed.attach_role_policy(RoleName="crowded", PolicyArn=arn)
    assert refused(lambda: routed.attach_role_policy(RoleName="crowded", PolicyArn=arns[10])) \
        == "LimitExceeded: Cannot exceed quota for PoliciesPerRole: 10"
    # Attaching one attached already changes nothing, and IAM does not refuse it.
    routed.attach_role_policy(RoleName="crowded", PolicyArn=arns[0])
    assert len(moto.list_attached_role_policies(RoleName="crowded")["AttachedPolicies"]) == 10


def test_a_user_is_held_to_ten_groups_as_moto_reports_the_quota(iam):
    moto, routed = iam
    assert moto.get_account_summary()["SummaryMap"]["GroupsPerUserQuota"] == 10
    moto.create_user(UserName="joiner")
    for n in range(11):
        moto.create_group(GroupName=f"g{n}")
    for n in range(10):
        routed.add_user_to_group(UserName="joiner", GroupName=f"g{n}")
    assert refused(lambda: routed.add_user_to_group(UserName="joiner", GroupName="g10")) \
        == "LimitExceeded: Cannot exceed quota for GroupsPerUser: 10"
    # Adding her to a group she is in already changes nothing.
    routed.add_user_to_group(UserName="joiner", GroupName="g0")
    assert len(moto.list_groups_for_user(UserName="joiner")["Groups"]) == 10


def test_a_user_and_a_group_are_held_to_ten_managed_policies_each(iam):
    moto, routed = iam
    moto.create_user(UserName="collector")
    moto.create_group(GroupName="hoarders")
    arns = [moto.create_policy(PolicyName=f"q{n}", PolicyDocument=document(200))["Policy"]["Arn"]
            for n in range(11)]
    for arn in arns[:10]:
        routed.attach_user_policy(UserName="collector", PolicyArn=arn)
        routed.attach_group_policy(GroupName="hoarders", PolicyArn=arn)
    assert refused(lambda: routed.attach_user_policy(UserName="collector", PolicyArn=arns[10])) \
        == "LimitExceeded: Cannot exceed quota for PoliciesPerUser: 10"
    assert refused(lambda: routed.attach_group_policy(GroupName="hoarders", PolicyArn=arns[10])) \
        == "LimitExceeded: Cannot exceed quota for PoliciesPerGroup: 10"
