"""The template's resource-policy statements evaluated here, since moto enforces no policy: the
condition operators with their documented semantics (the `...IfExists` and negated forms match
when the key is absent from the request), against the requests each kind of caller makes. Role
ARNs stand for `!GetAtt <Role>.Arn`."""
import fnmatch
import re

ACCOUNT_USER = "arn:aws:iam::123456789012:user/mallory"
# The AdministratorArns parameter, where a statement names it.
ADMINISTRATOR = "arn:aws:iam::123456789012:role/deployer"
PARAMETERS = {"AdministratorArns": [ADMINISTRATOR], "AWS::AccountId": "123456789012"}
# The pseudo parameters a `!Sub` string names.
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
          "AWS::StackName": "iam-sentinel"}


def role_arn(logical_id: str) -> str:
    return f"arn:aws:iam::123456789012:role/{logical_id}"


def resolve(value):
    """`!GetAtt X.Arn` as role_arn(X) (for a role, its ARN; for anything else a token of its
    own); `!Ref` of a parameter as PARAMETERS gives it, of anything else its logical id; `!If`
    as its condition holding (a `!Ref AWS::NoValue` left out); lists element by element."""
    if isinstance(value, list):
        resolved = [resolve(v) for v in value]
        return [v for v in resolved if v != "AWS::NoValue"]
    if isinstance(value, dict) and "GetAtt" in value:
        target = value["GetAtt"]
        logical_id, attribute = target.split(".") if isinstance(target, str) else target
        assert attribute == "Arn", value
        return role_arn(logical_id)
    if isinstance(value, dict) and "Ref" in value:
        return PARAMETERS.get(value["Ref"], value["Ref"])
    if isinstance(value, dict) and "If" in value:
        return resolve(value["If"][1])
    if isinstance(value, dict) and "Join" in value:
        separator, parts = value["Join"]
        return separator.join(as_list(resolve(parts)))
    if isinstance(value, dict) and "Split" in value:
        separator, text = value["Split"]
        return resolve(text).split(separator)
    if isinstance(value, dict) and "Sub" in value and isinstance(value["Sub"], list):
        text, names = value["Sub"]
        return re.sub(r"\$\{(\w+)\}", lambda m: resolve(names[m.group(1)]), text)
    if isinstance(value, dict) and "Sub" in value:
        return re.sub(r"\$\{([\w:]+)\}", lambda m: PSEUDO[m.group(1)], value["Sub"])
    return value


def as_list(value):
    return value if isinstance(value, list) else [value]


def condition_holds(operator: str, key: str, expected, context: dict) -> bool:
    expected = [str(v) for v in as_list(resolve(expected))]
    if operator.startswith(("ForAllValues:", "ForAnyValue:")):
        # Multivalued keys: ForAllValues holds when every value matches (and when the key is
        # absent or empty), ForAnyValue when one does.
        values = [str(v) for v in context.get(key, [])]
        if operator.endswith(":StringLike"):
            def match(v): return any(fnmatch.fnmatchcase(v, e) for e in expected)
        elif operator.endswith(":StringEquals"):
            def match(v): return v in expected
        else:
            raise AssertionError(f"condition operator {operator} not evaluated here")
        return all(map(match, values)) if operator.startswith("ForAll") else any(map(match, values))
    if key not in context:
        # IAM: a key absent from the request matches `...IfExists` and the negated operators
        # (`ArnNotLike`, `StringNotEquals`), and no other.
        return operator.endswith("IfExists") or "Not" in operator
    actual = str(context[key])
    if operator.startswith("BoolIfExists") or operator == "Bool":
        return actual.lower() in [e.lower() for e in expected]
    if operator.startswith("ArnNotLike") or operator.startswith("ArnNotEquals"):
        return not any(fnmatch.fnmatchcase(actual, e) for e in expected)
    if operator.startswith("ArnLike") or operator.startswith("ArnEquals"):
        return any(fnmatch.fnmatchcase(actual, e) for e in expected)
    if operator.startswith("StringEquals"):
        return actual in expected
    raise AssertionError(f"condition operator {operator} not evaluated here")


def statements_of(document: dict) -> list[dict]:
    """A policy's statements, each `!If` read as its condition holding."""
    return [s for s in (resolve_if(s) for s in document["Statement"]) if isinstance(s, dict)]


def resolve_if(statement):
    return statement["If"][1] if isinstance(statement, dict) and "If" in statement else statement


def applies(statement: dict, effect: str, action: str, context: dict) -> bool:
    """Whether `statement` has `effect` on `action` (as written or by a wildcard) and every
    condition of it holds in this request."""
    if statement["Effect"] != effect or not any(
            fnmatch.fnmatchcase(action, a) for a in as_list(statement["Action"])):
        return False
    conditions = statement.get("Condition", {})
    return all(condition_holds(op, key, expected, context)
               for op, keys in conditions.items() for key, expected in keys.items())


def denied(statements: list[dict], action: str, context: dict) -> bool:
    """Whether some Deny among `statements` applies to `action` in this request."""
    return any(applies(s, "Deny", action, context) for s in statements)


def allowed_to_service(statements: list[dict], service: str, action: str, context: dict) -> bool:
    """Whether a statement allows the AWS service `service` `action` in this request (a
    service principal is allowed only by the resource's own policy) and none denies it."""
    return any(s.get("Principal") == {"Service": service} and applies(s, "Allow", action, context)
               for s in statements) and not denied(statements, action, context)


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
