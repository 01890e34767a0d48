#!/usr/bin/env python3
"""Lint the SAM template as CloudFormation will see it, offline.

`cfn-lint template.yaml` (and `sam validate --lint`) check a SAM template before the SAM transform,
so they miss whatever the transform produces: unknown IAM actions in generated roles, the
generated rule, role and policies, and the state machine definition behind `DefinitionUri`.
This script does what `sam validate --debug` does to print "Translated template is:" (samcli's
SamTemplateValidator: local CodeUri/DefinitionUri replaced by placeholder S3 URIs, then
samtranslator), with a fixed region and no AWS credentials (a plain AWS::StepFunctions::StateMachine's
local DefinitionS3Location, which `sam deploy` uploads, is handled the same way); the AWS managed policy ARNs come
from the list bundled with samtranslator instead of IAM. Each state machine whose
DefinitionUri was a local file then gets that file inlined as `Definition` (its
DefinitionSubstitutions stay), so cfn-lint also validates the ASL (E3601). Finally cfn-lint
runs on the result, which is written to target/lint/ for reading.

Before that, it checks what neither linter knows about this project (`deploy_problems`): every
log group is kept when the stack goes, the template's default Architecture is what `make build`
builds, the approval deadline stays below Step Functions' one-year limit, every alarm on an
EventBridge rule's metric names a rule of this template on the default bus, and every rule on
CloudTrail's events matches this account's only (the default bus also carries what other
accounts send it).

Exit status: 0 when those checks pass and cfn-lint reports no error and no warning; 1 for a
failed check; otherwise cfn-lint's own non-zero status (informational findings are shown and
do not fail).

Usage: scripts/lint-template.py [template.yaml]
"""

import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

# Offline and deterministic: no credentials, no metadata lookups, no telemetry.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "offline")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "offline")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ.setdefault("SAM_CLI_TELEMETRY", "0")

from samcli.lib.translate.sam_template_validator import SamTemplateValidator  # noqa: E402
from samcli.yamlhelper import yaml_parse  # noqa: E402
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map  # noqa: E402

REGION = "us-east-1"
PARTITION = "aws"
OUT_DIR = Path("target/lint")


class BundledManagedPolicies:
    """Stands in for samtranslator's ManagedPolicyLoader, which lists policies through IAM."""

    def load(self):
        return dict(get_bundled_managed_policy_map(PARTITION))


# Where each kind of state machine names its definition file (sam deploy uploads a local one).
DEFINITION_FILE = {
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::StepFunctions::StateMachine": "DefinitionS3Location",
}


def local_definitions(template):
    """State machines whose definition is a local file: logical id -> path."""
    found = {}
    for logical_id, resource in template.get("Resources", {}).items():
        key = DEFINITION_FILE.get(resource.get("Type"))
        uri = resource.get("Properties", {}).get(key) if key else None
        if isinstance(uri, str) and not uri.startswith("s3://"):
            found[logical_id] = uri
    return found


# The IAM calls each function's code makes, read from its handler (crates/remediation/src/
# handlers/) through the adapters it uses (iam.rs, principals.rs, boundaries.rs, account.rs):
# its role must allow each, and allow no other IAM action (least privilege). Together they must
# be every call the adapters can make (iam_calls_in_adapters), so a new call has to be placed.
POLICY_READS = {"iam:GetPolicy", "iam:GetPolicyVersion"}  # IamPolicies::default_version
INLINE_READS = {"iam:GetUserPolicy", "iam:GetRolePolicy", "iam:GetGroupPolicy"}  # inline_document
ATTACHED_LISTS = {"iam:ListAttachedUserPolicies", "iam:ListAttachedRolePolicies",
                  "iam:ListAttachedGroupPolicies"}  # attached_policy_arns, is_attached
INLINE_LISTS = {"iam:ListUserPolicies", "iam:ListRolePolicies", "iam:ListGroupPolicies"}  # inline_policy_names
PRINCIPAL_INFO = {"iam:GetUser", "iam:GetRole"}  # principal_info
PRINCIPAL_IDS = PRINCIPAL_INFO | {"iam:GetGroup"}  # principal_id, principal_ids
# principals::principal_policies: principal_info, groups_for_user, and each one's policies
POLICIES_IN_FORCE = (PRINCIPAL_INFO | {"iam:ListGroupsForUser"} | INLINE_LISTS | INLINE_READS
                     | ATTACHED_LISTS | POLICY_READS)
# handlers/restore.rs plan_restore: default_version, version_document, inline_document,
# is_attached, groups_for_user, principals::group_policies, principal_info, principal_ids,
# principals::other_inline_documents (inline_policy_names)
PLAN_RESTORE = (POLICY_READS | INLINE_READS | ATTACHED_LISTS
                | {"iam:ListGroupsForUser"} | INLINE_LISTS | PRINCIPAL_IDS)
FUNCTION_IAM_CALLS = {
    # document_of (version_document, default_version, inline_document), principal_policies,
    # group_policies, principal_info (trust policies), boundaries::previous
    "AnalyseChangeFunction": POLICIES_IN_FORCE,
    # quarantine.rs: its reads (the change's principals' ids, a managed policy's attachments,
    # attached_to) and the writes
    "QuarantinePolicyFunction": POLICIES_IN_FORCE | PRINCIPAL_IDS | {
        "iam:ListPolicyVersions", "iam:ListEntitiesForPolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion",
        "iam:PutUserPolicy", "iam:PutRolePolicy", "iam:PutGroupPolicy",
        "iam:DetachUserPolicy", "iam:DetachRolePolicy", "iam:DetachGroupPolicy",
        "iam:DeleteUserPolicy", "iam:DeleteRolePolicy", "iam:DeleteGroupPolicy",
        "iam:RemoveUserFromGroup", "iam:PutUserPermissionsBoundary", "iam:PutRolePermissionsBoundary"},
    # restore.rs: plan_restore, the restore writes, and record_approval (attached_to)
    "RestorePolicyFunction": PLAN_RESTORE | {
        "iam:ListEntitiesForPolicy", "iam:SetDefaultPolicyVersion", "iam:DeletePolicyVersion",
        "iam:PutUserPolicy", "iam:PutRolePolicy", "iam:PutGroupPolicy",
        "iam:AttachUserPolicy", "iam:AttachRolePolicy", "iam:AttachGroupPolicy",
        "iam:AddUserToGroup", "iam:PutUserPermissionsBoundary", "iam:PutRolePermissionsBoundary",
        "iam:DeleteUserPermissionsBoundary", "iam:DeleteRolePermissionsBoundary"},
    # approval_api.rs: forecast_restore (plan_restore, and the count quotas:
    # attached_policies_quota, groups_per_user_quota), for what approving would do now
    "ApprovalApiFunction": PLAN_RESTORE | {"iam:GetAccountSummary"},
    # account.rs
    "SweepAccountFunction": {"iam:GetAccountAuthorizationDetails"},
}
ADAPTERS = ("crates/remediation/src/iam.rs", "crates/remediation/src/account.rs")


def iam_calls_in_adapters(base):
    """Every IAM call the adapters name when one fails (`AwsFailure::from_sdk`'s call names: the
    API's own), except the boundary calls a group has none of."""
    calls = set()
    for path in ADAPTERS:
        text = (base / path).read_text()
        unmade = set(re.findall(r'no_group_boundary\("(\w+)"\)', text))
        for name in re.findall(r'"(?:IAM )?((?:Get|List|Put|Delete|Create|Set|Attach|Detach|Add|Remove)[A-Z]\w+)"', text):
            if name not in unmade:
                calls.add(f"iam:{name}")
    return calls


# The writes that a function's credentials, copied, could forge records or findings with.
GUARDED_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                  "dynamodb:BatchWriteItem", "sqs:SendMessage"}


def unguarded_writes(role):
    """The record writes and sends the role allows that no Deny refuses outside its functions
    (`ArnNotEquals lambda:SourceFunctionArn`): copied credentials could make those."""
    allowed, guarded = set(), set()
    for policy in role.get("Properties", {}).get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if not isinstance(statement, dict):
                continue
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if statement.get("Effect") == "Allow":
                allowed.update(a for a in actions if a in GUARDED_WRITES)
            elif "lambda:SourceFunctionArn" in statement.get("Condition", {}).get("ArnNotEquals", {}):
                guarded.update(w for w in GUARDED_WRITES if any(fnmatch.fnmatchcase(w, a) for a in actions))
    return allowed - guarded


def allowed_iam_actions(role):
    """The IAM actions the role's inline policies Allow (Deny statements only narrow)."""
    allowed = set()
    for policy in role.get("Properties", {}).get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            for action in [actions] if isinstance(actions, str) else actions:
                if isinstance(action, str) and action.lower().startswith("iam:"):
                    allowed.add(action)
    return allowed


def iam_call_problems(template, base):
    """Each function's role allows exactly the IAM calls its code makes."""
    problems = []
    resources = template.get("Resources", {})
    made = set().union(*FUNCTION_IAM_CALLS.values())
    for call in sorted(iam_calls_in_adapters(base) - made):
        problems.append(f"the adapters call {call}, which no function's entry in FUNCTION_IAM_CALLS lists")
    calls_by_role = {}
    functions = {logical_id: resource for logical_id, resource in resources.items()
                 if resource.get("Type") == "AWS::Serverless::Function"}
    for logical_id in sorted(set(FUNCTION_IAM_CALLS) - set(functions)):
        problems.append(f"FUNCTION_IAM_CALLS names {logical_id}, which is no function of this template")
    for logical_id, function in functions.items():
        calls = FUNCTION_IAM_CALLS.get(logical_id, set())
        role = function.get("Properties", {}).get("Role", {})
        role_id = role.get("Fn::GetAtt", [None])[0] if isinstance(role, dict) else None
        if role_id not in resources:
            problems.append(f"{logical_id}: its Role must be !GetAtt of a role of this template, not {role!r}")
            continue
        calls_by_role.setdefault(role_id, set()).update(calls)
        allowed = allowed_iam_actions(resources[role_id])
        for call in sorted(calls):
            if not any(fnmatch.fnmatchcase(call.lower(), a.lower()) for a in allowed):
                problems.append(f"{logical_id} calls {call}, which its role {role_id} does not allow")
    for role_id, calls in calls_by_role.items():
        for action in sorted(unguarded_writes(resources[role_id])):
            problems.append(f"{role_id} allows {action} with no Deny outside its functions (lambda:SourceFunctionArn)")
        for action in sorted(allowed_iam_actions(resources[role_id])):
            if not any(fnmatch.fnmatchcase(c.lower(), action.lower()) for c in calls):
                problems.append(f"{role_id} allows {action}, which none of its functions calls")
    return problems


CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
THIS_ACCOUNT = {"Ref": "AWS::AccountId"}

# Standard workflows run for at most one year: a longer approval wait could never time out.
ONE_YEAR_HOURS = 365 * 24

# EventBridge's default quota on an event pattern's size, in characters ("Amazon EventBridge
# quotas": adjustable, but a deploy must not depend on an increase).
MAX_EVENT_PATTERN_CHARACTERS = 2048
# The pattern as deployed, at its largest: a stack name of 32 characters, the longest region
# and partition names, and 128 characters for anything a Ref or GetAtt gives (an ARN).
WORST_CASE_SUB = {"AWS::StackName": "x" * 32, "AWS::AccountId": "0" * 12,
                  "AWS::Region": "ap-southeast-5", "AWS::Partition": "aws-iso-b"}
WORST_CASE_REFERENCE = "x" * 128


def deployed_at_most(node):
    """`node` with its intrinsic functions replaced by the longest text they can deploy as."""
    if isinstance(node, list):
        return [deployed_at_most(v) for v in node]
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            return re.sub(r"\$\{([^}]+)\}",
                          lambda m: WORST_CASE_SUB.get(m.group(1), WORST_CASE_REFERENCE),
                          node["Fn::Sub"])
        if set(node) in ({"Ref"}, {"Fn::GetAtt"}):
            return WORST_CASE_SUB.get(node.get("Ref"), WORST_CASE_REFERENCE)
        return {k: deployed_at_most(v) for k, v in node.items()}
    return node


def makefile_default_arch(makefile):
    """The `ARCH ?= ...` default of the Makefile."""
    for line in makefile.splitlines():
        name, _, value = line.partition("?=")
        if name.strip() == "ARCH":
            return value.strip()
    return None


def deploy_problems(template, makefile):
    """What a deploy gets wrong without any linter noticing; one sentence per problem."""
    problems = []
    resources = template.get("Resources", {})
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Logs::LogGroup":
            for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
                if resource.get(policy) != "Retain":
                    problems.append(f"{logical_id}: a log group needs {policy}: Retain (the audit trail outlives the stack)")
    parameters = template.get("Parameters", {})
    arch = parameters.get("Architecture", {}).get("Default")
    built = makefile_default_arch(makefile)
    if arch != built:
        problems.append(
            f"Architecture defaults to {arch!r} but `make build` builds {built!r}: "
            "a plain deploy would run binaries built for another architecture"
        )
    max_hours = parameters.get("ApprovalTimeoutHours", {}).get("MaxValue")
    if not isinstance(max_hours, int) or max_hours >= ONE_YEAR_HOURS:
        problems.append(
            f"ApprovalTimeoutHours MaxValue {max_hours!r} must be below {ONE_YEAR_HOURS}: "
            "a Standard workflow ends after one year, so a longer deadline never times out"
        )
    default_bus_rules = {
        logical_id
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::Events::Rule"
        and resource.get("Properties", {}).get("EventBusName", "default") == "default"
    }
    for logical_id in sorted(default_bus_rules):
        pattern = resources[logical_id].get("Properties", {}).get("EventPattern", {})
        if CLOUDTRAIL_DETAIL_TYPE in pattern.get("detail-type", []) and pattern.get("account") != [THIS_ACCOUNT]:
            problems.append(
                f"{logical_id}: a rule on CloudTrail's events must pin `account: [!Ref AWS::AccountId]`, "
                f"not {pattern.get('account')!r}: another account's events would be acted on here"
            )
    for logical_id in sorted(r for r, res in resources.items() if res.get("Type") == "AWS::Events::Rule"):
        pattern = resources[logical_id].get("Properties", {}).get("EventPattern")
        size = len(json.dumps(deployed_at_most(pattern), separators=(",", ":"))) if pattern else 0
        if size > MAX_EVENT_PATTERN_CHARACTERS:
            problems.append(
                f"{logical_id}: its event pattern can deploy as {size} characters, more than "
                f"EventBridge's {MAX_EVENT_PATTERN_CHARACTERS}: split it into rules"
            )
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource.get("Type") != "AWS::CloudWatch::Alarm" or properties.get("Namespace") != "AWS/Events":
            continue
        for dimension in properties.get("Dimensions", []):
            # On the default bus the dimension is the rule's name, which Ref gives.
            value = dimension.get("Value")
            if dimension.get("Name") == "RuleName" and not (isinstance(value, dict) and value.get("Ref") in default_bus_rules):
                problems.append(
                    f"{logical_id}: its RuleName dimension must be !Ref to a rule of this template "
                    f"on the default bus, not {value!r}"
                )
    return problems


def main():
    template_path = Path(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
    base = template_path.parent
    sam_template = yaml_parse(template_path.read_text())
    problems = deploy_problems(sam_template, (base / "Makefile").read_text())
    problems += iam_call_problems(sam_template, base)
    for problem in problems:
        print(f"{template_path}: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"{template_path}: log groups retained, Architecture = make build's, approval deadline under a year, rule alarms name their rules, CloudTrail rules pin the account, "
          "each role allows exactly its functions' IAM calls, record writes only inside them")
    definitions = local_definitions(sam_template)

    validator = SamTemplateValidator(sam_template, BundledManagedPolicies(), region=REGION)
    translated = yaml_parse(validator.get_translated_template_if_valid())

    resources = translated["Resources"]
    for logical_id, path in definitions.items():
        state_machine = resources[logical_id]
        if state_machine.get("Type") != "AWS::StepFunctions::StateMachine":
            sys.exit(f"{logical_id}: expected the transform to produce AWS::StepFunctions::StateMachine")
        properties = state_machine["Properties"]
        properties.pop("DefinitionS3Location", None)
        properties["Definition"] = json.loads((base / path).read_text())

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / (template_path.stem + ".translated.json")
    out.write_text(json.dumps(translated, indent=2) + "\n")
    print(f"translated {template_path} -> {out} ({len(resources)} resources)")

    # cfn-lint's exit status is a bit mask: 2 errors, 4 warnings, 8 informational.
    status = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--regions", REGION, "--", str(out)], check=False
    ).returncode
    if status & ~8:
        sys.exit(status)
    print("cfn-lint: no errors or warnings in the translated template")


if __name__ == "__main__":
    main()
