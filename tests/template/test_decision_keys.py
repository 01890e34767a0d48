"""Who may write which items of the decision record (THREAT-MODEL T16, T18): each role's own
policies name the keys it may put (`dynamodb:LeadingKeys`) and deny its writes outside its own
functions (`lambda:SourceFunctionArn`). An `approved` grant record keeps the sweep off a grant
for good, so only restore-policy may put a `grant#` item; the sweep's claims are `claim#`
items, with a check of the grant's `grant#` item in the same transaction.

moto enforces no policy: the statements are evaluated here (evaluate.py), for a request made
from inside each function of the stack as its role.
"""
import fnmatch

import pytest
from evaluate import PSEUDO, applies, as_list, resolve, role_arn, roles, statements_of
from harness.template import read_template

GRANT = "grant#0123456789abcdef#" + "0" * 64
CLAIM = "claim#0123456789abcdef#" + "0" * 64
TABLE = resolve({"GetAtt": "DecisionTable.Arn"})


@pytest.fixture(scope="module")
def template():
    return read_template()


def callers(template: dict) -> list[tuple[str, str]]:
    """(role, function name) for every function of the stack, and (role, None) for a role no
    function runs as (a request from outside any function)."""
    out = []
    for role in sorted(roles(template)):
        functions = [resolve(r["Properties"]["FunctionName"])
                     for r in template["Resources"].values()
                     if r["Type"] == "AWS::Serverless::Function"
                     and r["Properties"].get("Role") == {"GetAtt": f"{role}.Arn"}]
        out += [(role, f) for f in functions] or [(role, None)]
    return out


def may(template: dict, role: str, function: str | None, action: str, key: str) -> bool:
    """Whether `role`'s own policies let a call of `action` on the decision table's item `key`
    through, made from inside `function` (None: from outside every function)."""
    statements = [s for p in template["Resources"][role]["Properties"].get("Policies", [])
                  for s in statements_of(p["PolicyDocument"])]
    context = {"aws:PrincipalArn": role_arn(role), "dynamodb:LeadingKeys": [key]}
    if function:
        context["lambda:SourceFunctionArn"] = (
            f"arn:aws:lambda:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:function:{function}")

    def on_the_table(statement):
        return any(fnmatch.fnmatchcase(TABLE, str(r))
                   for r in as_list(resolve(statement.get("Resource", []))))

    def applying(effect):
        return any(on_the_table(s) and applies(s, effect, action, context) for s in statements)
    return applying("Allow") and not applying("Deny")


def who_may(template: dict, action: str, key: str) -> set[tuple[str, str | None]]:
    return {(role, function) for role, function in callers(template)
            if may(template, role, function, action, key)}


def test_only_restore_policy_may_put_a_grant_record(template):
    for action in ["dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem"]:
        expected = {("PolicyWriterRole", "iam-sentinel-restore-policy")} \
            if action == "dynamodb:PutItem" else set()
        assert who_may(template, action, GRANT) == expected, action


def test_only_the_sweep_may_put_a_claim(template):
    assert who_may(template, "dynamodb:PutItem", CLAIM) == {
        ("SweepAccountRole", "iam-sentinel-sweep-account")}


def test_the_sweep_may_check_a_grant_record_in_its_claims_transaction(template):
    assert may(template, "SweepAccountRole", "iam-sentinel-sweep-account",
               "dynamodb:ConditionCheckItem", GRANT)


def test_the_sweep_puts_its_baseline_marker_and_nothing_outside_its_function(template):
    assert may(template, "SweepAccountRole", "iam-sentinel-sweep-account", "dynamodb:PutItem",
               "sweep#baseline")
    for key in [CLAIM, "sweep#baseline", "rules#current"]:
        assert not may(template, "SweepAccountRole", None, "dynamodb:PutItem", key), key
