"""The AWS managed policies shipped inside moto (pinned in requirements-dev.txt).

moto/iam/aws_managed_policies.py holds one big JSON string, `aws_managed_policies_data`,
mapping PolicyName -> {"Document", "DefaultVersionId", "Path", "CreateDate", "UpdateDate", ...},
which moto's maintainers regenerate from AWS (`make aws_managed_policies`: IAM ListPolicies
with Scope=AWS, then GetPolicyVersion of each default version). The module file is loaded by
path so that moto's IAM backend (boto3, models) is not imported.
"""
import importlib.metadata
import importlib.util
import json
from pathlib import Path


def moto_version():
    return importlib.metadata.version("moto")


def load():
    """moto's managed-policy dict {name: {"Document": ..., "Path": ..., ...}}."""
    moto_dir = Path(importlib.util.find_spec("moto").origin).parent
    path = moto_dir / "iam" / "aws_managed_policies.py"
    spec = importlib.util.spec_from_file_location("_moto_aws_managed_policies", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return json.loads(module.aws_managed_policies_data)
