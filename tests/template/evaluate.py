"""The template's resource-policy statements evaluated here, since moto enforces no policy: the
condition operators with their documented semantics (the `...IfExists` forms match when the key
is absent from the request), against the requests each kind of caller makes. Role ARNs stand
for `!GetAtt <Role>.Arn`."""
import fnmatch

ACCOUNT_USER = "arn:aws:iam::123456789012:user/mallory"


def role_arn(logical_id: str) -> str:
    return f"arn:aws:iam::123456789012:role/{logical_id}"


def resolve(value):
    """`!GetAtt Role.Arn` as role_arn(Role); `!Ref X` as X; lists element by element."""
    if isinstance(value, list):
        return [resolve(v) for v in value]
    if isinstance(value, dict) and "GetAtt" in value:
        target = value["GetAtt"]
        logical_id, attribute = target.split(".") if isinstance(target, str) else target
        assert attribute == "Arn", value
        return role_arn(logical_id)
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    return value


def as_list(value):
    return value if isinstance(value, list) else [value]


def condition_holds(operator: str, key: str, expected, context: dict) -> bool:
    expected = [str(v) for v in as_list(resolve(expected))]
    if key not in context:
        assert operator.endswith("IfExists"), f"{operator} on {key}, absent from the request"
        return True
    actual = str(context[key])
    if operator.startswith("BoolIfExists") or operator == "Bool":
        return actual.lower() in [e.lower() for e in expected]
    if operator.startswith("ArnNotLike"):
        return not any(fnmatch.fnmatchcase(actual, e) for e in expected)
    if operator.startswith("ArnLike") or operator.startswith("ArnEquals"):
        return any(fnmatch.fnmatchcase(actual, e) for e in expected)
    if operator.startswith("StringEquals"):
        return actual in expected
    raise AssertionError(f"condition operator {operator} not evaluated here")


def denied(statements: list[dict], action: str, context: dict) -> bool:
    """Whether some Deny among `statements` applies to `action` in this request."""
    for statement in statements:
        if statement["Effect"] != "Deny" or action not in as_list(statement["Action"]):
            continue
        conditions = statement.get("Condition", {})
        if all(condition_holds(op, key, expected, context)
               for op, keys in conditions.items() for key, expected in keys.items()):
            return True
    return False


def roles(template: dict) -> set[str]:
    return {r for r, res in template["Resources"].items() if res["Type"] == "AWS::IAM::Role"}


def roles_allowed(template: dict, action: str, resource) -> set[str]:
    """The stack's roles whose own policies allow `action` on `resource` (as written)."""
    found = set()
    for logical_id in roles(template):
        for policy in template["Resources"][logical_id]["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if (isinstance(statement, dict) and statement.get("Effect") == "Allow"
                        and action in as_list(statement.get("Action", []))
                        and resource in as_list(statement.get("Resource", []))):
                    found.add(logical_id)
    return found


def from_inside(principal_arn: str, **context) -> dict:
    """A request signed by `principal_arn`, over TLS, not by an AWS service."""
    return {"aws:SecureTransport": "true", "aws:PrincipalArn": principal_arn,
            "aws:PrincipalIsAWSService": "false", **context}
