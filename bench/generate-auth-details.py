#!/usr/bin/env python3
"""Write the scan benchmark's two authorization-details files, deterministically.

What: JSON of the shape `aws iam get-account-authorization-details` prints (UserDetailList,
GroupDetailList, RoleDetailList, Policies; documents as JSON objects), for account
123456789012:
  managed.json  every AWS managed policy shipped in moto (bench/managed_policies.py), each
                attached to at least one generated principal: service-linked policies
                (path /aws-service-role/) to service-linked roles, service-role policies to
                roles under /service-role/, the others to roles, users and groups; users in
                groups. Nothing else: the documents are AWS's own.
  account.json  a large generated account (--roles, --users, --groups, --policies): customer
                managed policies drawn from the shapes real accounts hold (read-only, scoped
                data access, conditional operations, NotAction power users, Deny guardrails
                with and without conditions, iam:PassRole, admin), some with an older version
                (admin or developer access; the default in one case of ten); permissions
                boundaries; inline policies; group memberships; a few real AWS managed
                policies attached (ReadOnlyAccess, PowerUserAccess, AdministratorAccess, ...).
Both files come from one seeded random.Random: the same seed and moto version give the same
bytes.

Why: `make bench-scan` times iam-sentinel scan, cloudsplaining and parliament's
--auth-details-file mode on the same files; the files are generated at bench time into
target/bench/ (megabytes: never committed).

Usage: .venv/bin/python bench/generate-auth-details.py --out-dir target/bench [--seed 12]
"""
import argparse
import json
import random
from pathlib import Path

import managed_policies

ACCOUNT = "123456789012"
CREATED = "2026-01-15T09:30:00+00:00"
# Service -> the read verbs it has actions for (read-only policies name these as Verb*).
READ_VERBS = {"s3": ["Get", "List"], "ec2": ["Describe", "Get"], "dynamodb": ["Describe", "Get", "List"],
              "lambda": ["Get", "List"], "logs": ["Describe", "Get"], "cloudwatch": ["Describe", "Get", "List"],
              "sqs": ["Get", "List"], "sns": ["Get", "List"], "kms": ["Describe", "Get", "List"],
              "iam": ["Get", "List"], "rds": ["Describe", "List"], "ecr": ["Describe", "Get", "List"],
              "ecs": ["Describe", "List"], "secretsmanager": ["Describe", "List"], "ssm": ["Describe", "Get", "List"],
              "cloudformation": ["Describe", "Get", "List"], "elasticloadbalancing": ["Describe"]}
TEAMS = ["payments", "search", "identity", "data", "platform", "mobile", "ads", "risk", "growth", "infra"]
# Real AWS managed policies the large account attaches now and then, weighted as accounts do.
ACCOUNT_AWS_MANAGED = [("ReadOnlyAccess", 6), ("AmazonS3ReadOnlyAccess", 6), ("CloudWatchLogsFullAccess", 4),
                       ("AmazonS3FullAccess", 3), ("AmazonEC2FullAccess", 2), ("PowerUserAccess", 2),
                       ("IAMFullAccess", 1), ("AdministratorAccess", 1)]


def statement(effect, actions, resources="*", condition=None, not_action=False, sid=None):
    s = {"Sid": sid} if sid else {}
    s["Effect"] = effect
    s["NotAction" if not_action else "Action"] = actions
    s["Resource"] = resources
    if condition:
        s["Condition"] = condition
    return s


def document(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


class Ids:
    """AWS-shaped unique ids (AROA..., AIDA..., AGPA..., ANPA...) from the seeded generator."""

    ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

    def __init__(self, rng):
        self.rng = rng

    def __call__(self, prefix):
        return prefix + "".join(self.rng.choice(self.ALPHABET) for _ in range(17))


def trust(service=None):
    principal = {"Service": service} if service else {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    return document({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


def attached(policies):
    return [{"PolicyName": p["PolicyName"], "PolicyArn": p["Arn"]} for p in policies]


def boundary(policy):
    return {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": policy["Arn"]}


def role(ids, name, path="/", service=None, inline=(), managed=(), bound=None):
    r = {"Path": path, "RoleName": name, "RoleId": ids("AROA"),
         "Arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}", "CreateDate": CREATED,
         "AssumeRolePolicyDocument": trust(service), "InstanceProfileList": [],
         "RolePolicyList": [{"PolicyName": n, "PolicyDocument": d} for n, d in inline],
         "AttachedManagedPolicies": attached(managed), "Tags": [], "RoleLastUsed": {}}
    if bound:
        r["PermissionsBoundary"] = boundary(bound)
    return r


def user(ids, name, groups=(), inline=(), managed=(), bound=None, path="/"):
    u = {"Path": path, "UserName": name, "UserId": ids("AIDA"),
         "Arn": f"arn:aws:iam::{ACCOUNT}:user{path}{name}", "CreateDate": CREATED,
         "UserPolicyList": [{"PolicyName": n, "PolicyDocument": d} for n, d in inline],
         "GroupList": list(groups), "AttachedManagedPolicies": attached(managed), "Tags": []}
    if bound:
        u["PermissionsBoundary"] = boundary(bound)
    return u


def group(ids, name, inline=(), managed=(), path="/"):
    return {"Path": path, "GroupName": name, "GroupId": ids("AGPA"),
            "Arn": f"arn:aws:iam::{ACCOUNT}:group{path}{name}", "CreateDate": CREATED,
            "GroupPolicyList": [{"PolicyName": n, "PolicyDocument": d} for n, d in inline],
            "AttachedManagedPolicies": attached(managed)}


def managed_policy(ids, name, versions, default_index, arn=None, path="/", created=CREATED, updated=CREATED):
    """A Policies entry; `versions` are documents, oldest first (v1, v2, ...)."""
    return {"PolicyName": name, "PolicyId": ids("ANPA"),
            "Arn": arn or f"arn:aws:iam::{ACCOUNT}:policy{path}{name}", "Path": path,
            "DefaultVersionId": f"v{default_index + 1}", "AttachmentCount": 0,
            "PermissionsBoundaryUsageCount": 0, "IsAttachable": True,
            "CreateDate": created, "UpdateDate": updated,
            "PolicyVersionList": [{"Document": d, "VersionId": f"v{i + 1}",
                                   "IsDefaultVersion": i == default_index, "CreateDate": created}
                                  for i, d in enumerate(versions)]}


def aws_managed_entries(ids, moto):
    """{name: Policies entry} for every AWS managed policy moto ships, with AWS's ARN and path."""
    entries = {}
    for name in sorted(moto):
        p = moto[name]
        arn = f"arn:aws:iam::aws:policy{p['Path']}{name}"
        entries[name] = managed_policy(ids, name, [p["Document"]], 0, arn=arn, path=p["Path"],
                                       created=p.get("CreateDate", CREATED), updated=p.get("UpdateDate", CREATED))
        # AWS's own version id, not v1: a file from AWS says which version is the default.
        entries[name]["DefaultVersionId"] = p["DefaultVersionId"]
        entries[name]["PolicyVersionList"][0]["VersionId"] = p["DefaultVersionId"]
    return entries


def count_attachments(details):
    by_arn = {p["Arn"]: p for p in details["Policies"]}
    for kind in ("UserDetailList", "GroupDetailList", "RoleDetailList"):
        for principal in details[kind]:
            for a in principal["AttachedManagedPolicies"]:
                by_arn[a["PolicyArn"]]["AttachmentCount"] += 1
            if "PermissionsBoundary" in principal:
                by_arn[principal["PermissionsBoundary"]["PermissionsBoundaryArn"]]["PermissionsBoundaryUsageCount"] += 1


def managed_file(rng, moto):
    """Every real AWS managed policy attached to generated principals (see the module doc)."""
    ids = Ids(rng)
    entries = aws_managed_entries(ids, moto)
    names = sorted(entries)
    linked = [n for n in names if moto[n]["Path"] == "/aws-service-role/"]
    service_role = [n for n in names if moto[n]["Path"] == "/service-role/"]
    general = [n for n in names if n not in set(linked) | set(service_role)]
    roles, users, groups = [], [], []
    for name in linked:  # one service-linked role per service-linked policy, as AWS creates them
        roles.append(role(ids, f"AWSServiceRoleFor{name[:47]}", path=f"/aws-service-role/{name.lower()[:30]}.amazonaws.com/",
                          service=f"{name.lower()[:30]}.amazonaws.com", managed=[entries[name]]))
    for i, name in enumerate(service_role):
        roles.append(role(ids, f"service-role-{i:04d}", path="/service-role/", service="lambda.amazonaws.com",
                          managed=[entries[name]] + [entries[rng.choice(service_role)] for _ in range(rng.randint(0, 1))]))
    rng.shuffle(general)
    group_count = 60
    for i in range(group_count):
        groups.append(group(ids, f"team-{i:03d}", managed=[entries[n] for n in rng.sample(general, rng.randint(1, 3))]))
    # Every general policy on at least one role or user; then each principal draws 0-2 more.
    for i, name in enumerate(general):
        extra = [entries[n] for n in rng.sample(general, rng.randint(0, 2))]
        if i % 3 == 2:
            member = rng.sample([g["GroupName"] for g in groups], rng.randint(0, 2))
            users.append(user(ids, f"person-{i:04d}", groups=member, managed=_unique([entries[name]] + extra)))
        else:
            roles.append(role(ids, f"app-{i:04d}", service="ec2.amazonaws.com" if i % 2 else None,
                              managed=_unique([entries[name]] + extra)))
    used = {a["PolicyArn"] for p in roles + users + groups for a in p["AttachedManagedPolicies"]}
    details = {"UserDetailList": users, "GroupDetailList": groups, "RoleDetailList": roles,
               "Policies": [e for e in entries.values() if e["Arn"] in used]}
    count_attachments(details)
    return details


def _unique(policies):
    seen, out = set(), []
    for p in policies:
        if p["Arn"] not in seen:
            seen.add(p["Arn"])
            out.append(p)
    return out


class Shapes:
    """Customer policy documents of the kinds real accounts hold, each drawn with parameters."""

    def __init__(self, rng):
        self.rng = rng

    def bucket(self):
        return f"{self.rng.choice(TEAMS)}-{self.rng.choice(['logs', 'assets', 'exports', 'raw', 'models'])}-{self.rng.randint(1, 400)}"

    def role_arn(self):
        return f"arn:aws:iam::{ACCOUNT}:role/{self.rng.choice(TEAMS)}-*"

    def read_only(self):
        services = self.rng.sample(sorted(READ_VERBS), self.rng.randint(1, 4))
        actions = [f"{s}:{verb}*" for s in services for verb in READ_VERBS[s]]
        return document(statement("Allow", actions, sid="ReadOnly"))

    def bucket_data(self):
        b = self.bucket()
        actions = ["s3:GetObject", "s3:PutObject"] + (["s3:DeleteObject"] if self.rng.random() < 0.5 else [])
        return document(statement("Allow", actions, f"arn:aws:s3:::{b}/*", sid="Objects"),
                        statement("Allow", "s3:ListBucket", f"arn:aws:s3:::{b}", sid="List"))

    def bucket_admin(self):
        b = self.bucket()
        return document(statement("Allow", "s3:*", [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]))

    def operations(self):
        team = self.rng.choice(TEAMS)
        return document(statement("Allow", ["ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances",
                                             "ec2:TerminateInstances"],
                                  f"arn:aws:ec2:*:{ACCOUNT}:instance/*",
                                  {"StringEquals": {"aws:ResourceTag/team": team}}),
                        statement("Allow", "ec2:Describe*"))

    def key_admin(self):
        key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{self.rng.getrandbits(128):032x}"
        actions = self.rng.choice([["kms:*"], ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:Put*",
                                                "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"]])
        return document(statement("Allow", actions, key))

    def pass_role(self):
        return document(statement("Allow", ["iam:PassRole", "iam:GetRole"], self.role_arn(),
                                  {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
                                  if self.rng.random() < 0.5 else None))

    def developer(self):
        services = self.rng.sample(["lambda", "dynamodb", "sqs", "sns", "logs", "s3", "ecr", "ecs"], 3)
        return document(statement("Allow", [f"{s}:*" for s in services]))

    def power_user(self):
        return document(statement("Allow", ["iam:*", "organizations:*", "account:*"], not_action=True),
                        statement("Allow", ["iam:CreateServiceLinkedRole", "iam:ListRoles",
                                            "organizations:DescribeOrganization"]))

    def self_service(self):
        return document(statement("Allow", ["iam:ChangePassword", "iam:GetUser", "iam:CreateAccessKey",
                                            "iam:DeleteAccessKey", "iam:ListAccessKeys"],
                                  f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"))

    def iam_admin(self):
        return document(statement("Allow", self.rng.choice(["iam:*", ["iam:Create*", "iam:Attach*", "iam:Put*"]])))

    def admin(self):
        return document(statement("Allow", "*"))

    def deny_guardrail(self):
        return document(self.rng.choice([
            statement("Deny", ["iam:*", "organizations:*"], sid="NoIdentityChanges"),
            statement("Deny", "s3:Delete*", condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
                      sid="DeleteNeedsMfa"),
            statement("Deny", "kms:ScheduleKeyDeletion", f"arn:aws:kms:*:{ACCOUNT}:key/*", sid="KeepKeys"),
            statement("Deny", ["ec2:TerminateInstances"], sid="NoTerminate"),
            statement("Deny", "organizations:LeaveOrganization", sid="StayInOrg"),
        ]), statement("Allow", ["cloudwatch:Get*", "cloudwatch:List*"]))

    # name -> weight: most policies are narrow, a few are broad, one in ten is a guardrail.
    WEIGHTS = {"read_only": 20, "bucket_data": 18, "bucket_admin": 6, "operations": 8, "key_admin": 5,
               "pass_role": 7, "developer": 12, "power_user": 3, "self_service": 5, "iam_admin": 2,
               "admin": 1, "deny_guardrail": 13}

    def draw(self):
        name = self.rng.choices(list(self.WEIGHTS), weights=list(self.WEIGHTS.values()))[0]
        return name, getattr(self, name)()


BOUNDARIES = {
    "boundary-no-identity": document(statement("Allow", ["iam:*", "organizations:*", "account:*"], not_action=True)),
    "boundary-app": document(statement("Allow", ["s3:*", "dynamodb:*", "lambda:*", "logs:*", "sqs:*", "sns:*",
                                                 "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"])),
    "boundary-admin-guarded": document(statement("Allow", "*"),
                                       statement("Deny", ["iam:CreateUser", "iam:CreateAccessKey",
                                                          "iam:DeleteRolePermissionsBoundary",
                                                          "iam:DeleteUserPermissionsBoundary", "organizations:*"])),
    "boundary-read-only": document(statement("Allow", [f"{s}:{verb}*" for s in sorted(READ_VERBS) for verb in READ_VERBS[s]])),
    "boundary-ops": document(statement("Allow", ["ec2:*", "cloudwatch:*", "logs:*", "ssm:*", "s3:*"]),
                             statement("Deny", "s3:Delete*", condition={"Bool": {"aws:SecureTransport": "false"}})),
}


def account_file(rng, moto, roles, users, groups, policies):
    """A large generated account (see the module doc)."""
    ids = Ids(rng)
    shapes = Shapes(rng)
    real = aws_managed_entries(ids, {n: moto[n] for n, _ in ACCOUNT_AWS_MANAGED})
    real_names, real_weights = zip(*ACCOUNT_AWS_MANAGED)
    customer = []
    for i in range(policies):
        kind, doc = shapes.draw()
        versions = [doc]
        default = 0
        if rng.random() < 0.15:  # older versions that granted more, one of them possibly still default
            versions = [shapes.admin() if rng.random() < 0.3 else shapes.developer(), doc]
            default = 1 if rng.random() < 0.9 else 0
        customer.append(managed_policy(ids, f"{kind.replace('_', '-')}-{i:05d}", versions, default,
                                       path=rng.choice(["/", "/", "/teams/"])))
    bounds = [managed_policy(ids, name, [doc], 0, path="/boundaries/") for name, doc in BOUNDARIES.items()]

    def pick_managed(low, high):
        chosen = rng.sample(customer, rng.randint(low, high))
        if rng.random() < 0.1:
            chosen.append(real[rng.choices(real_names, weights=real_weights)[0]])
        return _unique(chosen)

    def inline(count):
        return [(f"inline-{kind.replace('_', '-')}-{n}", doc) for n, (kind, doc) in enumerate(shapes.draw() for _ in range(count))]

    group_list = [group(ids, f"{rng.choice(TEAMS)}-{i:04d}", inline=inline(rng.choice([0, 0, 1, 2])),
                        managed=pick_managed(1, 3)) for i in range(groups)]
    user_list = [user(ids, f"user-{i:05d}", groups=[g["GroupName"] for g in rng.sample(group_list, rng.choice([0, 1, 1, 2, 3]))],
                      inline=inline(rng.choice([0, 0, 0, 1])), managed=pick_managed(0, 2),
                      bound=rng.choice(bounds) if rng.random() < 0.15 else None)
                 for i in range(users)]
    role_list = []
    for i in range(roles):
        service = rng.choice([None, "ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com"])
        role_list.append(role(ids, f"{rng.choice(TEAMS)}-{i:05d}", path=rng.choice(["/", "/", "/app/", "/service-role/"]),
                              service=service, inline=inline(rng.choice([0, 1, 1, 2])), managed=pick_managed(1, 4),
                              bound=rng.choice(bounds) if rng.random() < 0.2 else None))
    details = {"UserDetailList": user_list, "GroupDetailList": group_list, "RoleDetailList": role_list,
               "Policies": customer + bounds + list(real.values())}
    count_attachments(details)
    return details


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path("target/bench"))
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--roles", type=int, default=3000)
    parser.add_argument("--users", type=int, default=1500)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--policies", type=int, default=2000)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    moto = managed_policies.load()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    files = {"managed.json": managed_file(rng, moto),
             "account.json": account_file(rng, moto, args.roles, args.users, args.groups, args.policies)}
    for name, details in files.items():
        path = args.out_dir / name
        text = json.dumps(details, indent=1, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")
        print(f"{path}: {len(details['RoleDetailList'])} roles, {len(details['UserDetailList'])} users, "
              f"{len(details['GroupDetailList'])} groups, {len(details['Policies'])} managed policies, "
              f"{len(text.encode()) / 1e6:.1f} MB (moto {managed_policies.moto_version()}, seed {args.seed})")


if __name__ == "__main__":
    main()
