"""The scan benchmark's shared question, and what every tool's answer is mapped onto.

The question: which principals (IAM users and roles) can perform each restricted pattern?
An answer is {"role/<name>" | "user/<name>": {pattern: [restricted actions, lowercased]}};
a principal appears only with at least one pattern. Groups are not principals: what a group's
policies grant counts for its member users.

Matching is IAM's: case-insensitive, `*` and `?` wildcards over the whole `service:action`
(the same as bench/parliament-bench.py and bench/compare.py).
"""
import fnmatch


def patterns(text):
    """The comma-separated restricted list, as given to every tool."""
    return [p.strip() for p in text.split(",") if p.strip()]


def glob(pattern, text):
    """IAM's `*` and `?`, case-insensitively, `[` literal."""
    return fnmatch.fnmatchcase(text.lower(), pattern.lower().replace("[", "[[]"))


def key(kind, name):
    """A principal's key: IAM names are unique per kind and not distinguished by case."""
    return f"{kind}/{name.lower()}"


def principals(details):
    """{key: {"kind", "name", "arn", "path", "managed": [arn], "inline": [doc], "groups": [name],
    "boundary": arn | None}} for every user and role of an authorization-details file."""
    out = {}
    for kind, listing, name_key, inline_key in (("user", "UserDetailList", "UserName", "UserPolicyList"),
                                                ("role", "RoleDetailList", "RoleName", "RolePolicyList")):
        for p in details.get(listing, []):
            out[key(kind, p[name_key])] = {
                "kind": kind, "name": p[name_key], "arn": p["Arn"], "path": p.get("Path", "/"),
                "managed": [a["PolicyArn"] for a in p.get("AttachedManagedPolicies", [])],
                "inline": [(i["PolicyName"], i["PolicyDocument"]) for i in p.get(inline_key, [])],
                "groups": list(p.get("GroupList", [])),
                "boundary": (p.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
            }
    return out


def groups(details):
    """{group name lowercased: {"arn", "managed": [arn], "inline": [(name, doc)]}}."""
    return {g["GroupName"].lower(): {"arn": g["Arn"],
                                     "managed": [a["PolicyArn"] for a in g.get("AttachedManagedPolicies", [])],
                                     "inline": [(i["PolicyName"], i["PolicyDocument"]) for i in g.get("GroupPolicyList", [])]}
            for g in details.get("GroupDetailList", [])}


def default_documents(details):
    """{managed policy ARN: (path, name, default version's document)}."""
    out = {}
    for p in details.get("Policies", []):
        for v in p.get("PolicyVersionList", []):
            if v.get("IsDefaultVersion"):
                out[p["Arn"]] = (p.get("Path", "/"), p["PolicyName"], v["Document"])
    return out


def documents_examined(details):
    """Identity policy documents in the file: managed (default versions) and inline."""
    inline = sum(len(p.get(k, [])) for listing, k in (("UserDetailList", "UserPolicyList"),
                                                       ("RoleDetailList", "RolePolicyList"),
                                                       ("GroupDetailList", "GroupPolicyList"))
                 for p in details.get(listing, []))
    return len(details.get("Policies", [])) + inline


def by_pattern(actions, restricted):
    """{pattern: sorted actions} for the actions matching each restricted pattern."""
    out = {}
    for pattern in restricted:
        hit = sorted({a.lower() for a in actions if glob(pattern, a)})
        if hit:
            out[pattern] = hit
    return out


def compose(details, restricted, actions_of):
    """An answer from per-document answers: a principal can perform what any of its own inline
    policies, attached managed policies, or its groups' policies allow (no Deny across
    documents, no boundary: what a per-document tool says). `actions_of(owner, document_id)`
    gives the actions the tool found, where document_id is a managed policy's ARN or
    ("inline", policy name)."""
    group_table = groups(details)
    answer = {}
    for k, p in principals(details).items():
        found = set()
        for arn in p["managed"]:
            found |= actions_of(None, arn)
        for name, _ in p["inline"]:
            found |= actions_of(p["arn"], ("inline", name))
        for g in p["groups"]:
            group = group_table.get(g.lower())
            if group is None:
                continue
            for arn in group["managed"]:
                found |= actions_of(None, arn)
            for name, _ in group["inline"]:
                found |= actions_of(group["arn"], ("inline", name))
        patterns_found = by_pattern(found, restricted)
        if patterns_found:
            answer[k] = patterns_found
    return answer
