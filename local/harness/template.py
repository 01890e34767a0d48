"""template.yaml, read the way CloudFormation would deploy it, for what the local stack needs:
the functions' names, the state machine's definition with its DefinitionSubstitutions filled,
and the trigger rule with its !Sub placeholders resolved. Anything the local stack cannot
resolve is an error, never a guess."""

from __future__ import annotations

import json
import re

import yaml

from .constants import ACCOUNT, ASL_PATH, REGION, STACK_NAME, TEMPLATE_PATH

# The rule that starts the workflow in AWS, and the pseudo parameters CloudFormation would give.
TRIGGER_RULE = "IamPolicyChangeRule"
DOCUMENT_TABLE = "DocumentTable"
QUARANTINE_BOUNDARY = "QuarantineBoundaryPolicy"
DECISION_TABLE = "DecisionTable"
PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": REGION,
                     "AWS::URLSuffix": "amazonaws.com"}
# Short-form tags as _CfnLoader reads them: {"Sub": ...}, {"Ref": ...}, ...
_INTRINSICS = {"Sub", "Ref", "GetAtt", "If", "Join", "Select", "Split", "Equals", "Not", "And",
               "Or", "FindInMap", "ImportValue", "Base64", "Cidr", "GetAZs", "Condition",
               "Transform"}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...) as {"Fn": value}."""


def _cfn_tag(loader, tag_suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {tag_suffix: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def read_template() -> dict:
    return yaml.load(TEMPLATE_PATH.read_text(), Loader=_CfnLoader)


def function_names(template: dict, stack_name: str = STACK_NAME) -> dict[str, dict]:
    """Logical id -> {"name": deployed function name, "binary": cargo binary, "code_uri"} for
    every AWS::Serverless::Function, as the template defines them."""
    out = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        name = resource["Properties"].get("FunctionName", binary)
        if isinstance(name, dict) and "Sub" in name:
            name = name["Sub"].replace("${AWS::StackName}", stack_name)
        out[logical_id] = {"name": name, "binary": binary,
                           "code_uri": resource["Properties"]["CodeUri"]}
    return out


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def definition_substitutions(template: dict, parameters: dict[str, str],
                             stack_name: str = STACK_NAME) -> dict[str, str]:
    """The state machine's DefinitionSubstitutions, resolved the way CloudFormation would:
    !GetAtt <Function>.Arn -> the function's ARN, !Ref <Parameter> -> the given value (or the
    parameter's default)."""
    functions = function_names(template, stack_name)
    machine = next(r for r in template["Resources"].values()
                   if r.get("Type") in ("AWS::StepFunctions::StateMachine",
                                        "AWS::Serverless::StateMachine"))
    subs = {}
    for key, value in machine["Properties"]["DefinitionSubstitutions"].items():
        if isinstance(value, dict) and "GetAtt" in value:
            target = value["GetAtt"]
            logical_id, attribute = target.split(".", 1) if isinstance(target, str) else target
            if attribute != "Arn" or logical_id not in functions:
                raise ValueError(f"unsupported substitution {key}: {value}")
            subs[key] = function_arn(functions[logical_id]["name"])
        elif isinstance(value, dict) and "Ref" in value:
            param = value["Ref"]
            if param in parameters:
                subs[key] = str(parameters[param])
            elif "Default" in template["Parameters"][param]:
                subs[key] = str(template["Parameters"][param]["Default"])
            else:
                raise ValueError(f"substitution {key}: parameter {param} has no default")
        else:
            subs[key] = str(value)
    return subs


def substitute(definition: str, subs: dict[str, str]) -> str:
    """Fills ${Name} placeholders (moto has no DefinitionSubstitutions); every placeholder must
    be known, as CloudFormation requires."""
    missing = sorted(set(_PLACEHOLDER.findall(definition)) - set(subs))
    if missing:
        raise ValueError(f"placeholders without a substitution: {missing}")
    return _PLACEHOLDER.sub(lambda m: subs[m.group(1)], definition)


def state_machine_definition(template: dict, parameters: dict[str, str],
                             stack_name: str = STACK_NAME) -> str:
    """statemachine/remediation.asl.json as deployed: exactly the template's ASL, with its
    DefinitionSubstitutions filled in and nothing else changed."""
    return substitute(ASL_PATH.read_text(),
                      definition_substitutions(template, parameters, stack_name))


def resource_ref(template: dict, logical_id: str, stack_name: str = STACK_NAME) -> str:
    """What `!Ref <logical id>` (or `${<logical id>}` in a !Sub) gives, for the resources whose
    Ref is a name the template sets: an IAM role's RoleName, an event bus's Name. Anything else
    is refused rather than guessed."""
    resource = template["Resources"].get(logical_id)
    if resource is None:
        raise ValueError(f"no resource {logical_id} in template.yaml")
    named = {"AWS::IAM::Role": "RoleName", "AWS::Events::EventBus": "Name"}.get(resource.get("Type"))
    if named in resource["Properties"]:
        return resolve_intrinsics(template, resource["Properties"][named], stack_name)
    raise ValueError(f"cannot resolve a Ref to {logical_id} ({resource.get('Type')}) locally")


def resolve_sub(template: dict, text: str, stack_name: str = STACK_NAME) -> str:
    """`!Sub` with a string: ${AWS::...} pseudo parameters, ${AWS::StackName}, and
    ${<logical id>} (resource_ref). An unknown placeholder is an error."""
    def one(m):
        name = m.group(1)
        if name == "AWS::StackName":
            return stack_name
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if "." in name:
            raise ValueError(f"!Sub ${{{name}}}: attributes are not resolved locally")
        return resource_ref(template, name, stack_name)
    return re.sub(r"\$\{([A-Za-z0-9_:.]+)\}", one, text)


def resolve_intrinsics(template: dict, node, stack_name: str = STACK_NAME):
    """A template value with its `!Sub` strings resolved (resolve_sub) and its `!Ref`s to
    pseudo parameters (an event pattern's `account`); any other intrinsic function is refused,
    so nothing is silently left as {"Ref": ...}."""
    if isinstance(node, dict):
        if len(node) == 1 and next(iter(node)) in _INTRINSICS:
            fn, arg = next(iter(node.items()))
            if fn == "Sub" and isinstance(arg, str):
                return resolve_sub(template, arg, stack_name)
            if fn == "Ref" and arg in PSEUDO_PARAMETERS:
                return PSEUDO_PARAMETERS[arg]
            raise ValueError(f"unsupported intrinsic !{fn} {arg!r}")
        return {k: resolve_intrinsics(template, v, stack_name) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve_intrinsics(template, v, stack_name) for v in node]
    return node


def trigger_rule(template: dict, stack_name: str = STACK_NAME) -> dict:
    """The template's IamPolicyChangeRule as deployed: {"name", "event_bus", "pattern"}, the
    EventPattern exactly as written in template.yaml with its !Sub placeholders resolved
    (partition aws, account 123456789012, ${PolicyWriterRole} = "<stack>-policy-writer")."""
    props = template["Resources"][TRIGGER_RULE]["Properties"]
    return {"name": resolve_intrinsics(template, props["Name"], stack_name),
            "event_bus": props.get("EventBusName", "default"),
            "pattern": resolve_intrinsics(template, props["EventPattern"], stack_name)}


def _get_att_target(value) -> str:
    """The logical id of `!GetAtt <logical id>.Arn`; anything else is refused."""
    target = value.get("GetAtt") if isinstance(value, dict) else None
    logical_id, attribute = (target.split(".", 1) if isinstance(target, str)
                             else (target or [None, None]))
    if attribute != "Arn":
        raise ValueError(f"expected !GetAtt <resource>.Arn, not {value!r}")
    return logical_id


def trigger_delivery(template: dict, stack_name: str = STACK_NAME) -> dict:
    """Where IamPolicyChangeRule delivers and what reads it, as template.yaml says: its one
    target's SQS queue ({"visibility_timeout", "retention", "max_receive_count"}: the queue's
    VisibilityTimeout, MessageRetentionPeriod and its RedrivePolicy's maxReceiveCount) and the
    event source mapping on that queue ({"function": the deployed name, "batch_size",
    "response_types"})."""
    resources = template["Resources"]
    targets = resources[TRIGGER_RULE]["Properties"]["Targets"]
    if len(targets) != 1:
        raise ValueError(f"{TRIGGER_RULE} has {len(targets)} targets, expected its one queue")
    queue_id = _get_att_target(targets[0]["Arn"])
    queue = resources[queue_id]
    if queue.get("Type") != "AWS::SQS::Queue":
        raise ValueError(f"{TRIGGER_RULE}'s target {queue_id} is not an SQS queue")
    props = queue["Properties"]
    mappings = [r["Properties"] for r in resources.values()
                if r.get("Type") == "AWS::Lambda::EventSourceMapping"
                and _get_att_target(r["Properties"]["EventSourceArn"]) == queue_id]
    if len(mappings) != 1:
        raise ValueError(f"{len(mappings)} event source mappings read {queue_id}, expected one")
    mapping = mappings[0]
    function_id = mapping["FunctionName"].get("Ref") if isinstance(
        mapping["FunctionName"], dict) else None
    functions = function_names(template, stack_name)
    if function_id not in functions:
        raise ValueError(f"the event source mapping on {queue_id} feeds {mapping['FunctionName']!r}, "
                         "not one of the template's functions")
    return {"queue": {"visibility_timeout": int(props["VisibilityTimeout"]),
                      "retention": int(props["MessageRetentionPeriod"]),
                      "max_receive_count": int(props["RedrivePolicy"]["maxReceiveCount"])},
            "function": functions[function_id]["name"],
            "batch_size": int(mapping["BatchSize"]),
            "response_types": list(mapping.get("FunctionResponseTypes", []))}


def dynamodb_table(template: dict, logical_id: str, stack_name: str = STACK_NAME) -> dict:
    """The template's table `logical_id` (DOCUMENT_TABLE, DECISION_TABLE) as deployed:
    {"create": CreateTable's arguments (name, keys, billing, encryption), "ttl": its
    TimeToLiveSpecification, "pitr": whether point-in-time recovery is on}, exactly as written
    in template.yaml."""
    props = template["Resources"][logical_id]["Properties"]
    create = {key: resolve_intrinsics(template, props[key], stack_name)
              for key in ("TableName", "BillingMode", "AttributeDefinitions", "KeySchema")}
    # CloudFormation's SSEEnabled is the API's Enabled (KMS with the AWS managed key).
    create["SSESpecification"] = {"Enabled": props["SSESpecification"]["SSEEnabled"]}
    return {"create": create, "ttl": props["TimeToLiveSpecification"],
            "pitr": props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]}


def quarantine_boundary(template: dict, restricted_actions: str,
                        stack_name: str = STACK_NAME) -> dict:
    """The template's QuarantineBoundaryPolicy as deployed for `restricted_actions` (the
    RestrictedActions parameter): {"name", "document"}, its one statement chosen by
    `!If [HasRestrictedActions, ...]`: NotAction the parameter split at its commas
    (`!Split [",", !Ref RestrictedActions]`), or, the parameter empty, the other statement,
    exactly as template.yaml writes them."""
    props = template["Resources"][QUARANTINE_BOUNDARY]["Properties"]
    document = props["PolicyDocument"]
    (chosen,) = document["Statement"]
    condition, listed, everything = chosen["If"]
    if condition != "HasRestrictedActions" or template["Conditions"][condition] != {
            "Not": [{"Equals": [{"Ref": "RestrictedActions"}, ""]}]}:
        raise ValueError(f"{QUARANTINE_BOUNDARY}'s statement is not chosen by HasRestrictedActions")
    if listed["NotAction"] != {"Split": [",", {"Ref": "RestrictedActions"}]}:
        raise ValueError(f"{QUARANTINE_BOUNDARY}'s NotAction is not the split RestrictedActions")
    resolved = ({**listed, "NotAction": restricted_actions.split(",")} if restricted_actions
                else everything)
    return {"name": resolve_intrinsics(template, props["ManagedPolicyName"], stack_name),
            "document": json.dumps({**document, "Statement": [resolved]})}
