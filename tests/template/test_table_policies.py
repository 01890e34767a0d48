"""Who may change the document store's and the decision record's own protection (THREAT-MODEL
T16): each table's policy denies item writes to all but the sentinel's roles, and that is worth
nothing if a power user (`dynamodb:*`) can delete the policy, or the table, and then write. With
AdministratorArns set, the tables' policies deny those calls to everyone else; without it, the
tamper rule tells the operators (test_tamper_rule.py).

moto enforces no policy: the statements are evaluated here (evaluate.py).
"""
import pytest
from evaluate import ACCOUNT_USER, ADMINISTRATOR, denied, from_inside, role_arn, roles, statements_of
from harness.template import read_template

TABLES = ["DocumentTable", "DecisionTable"]
MANAGEMENT = ["dynamodb:DeleteResourcePolicy", "dynamodb:PutResourcePolicy",
              "dynamodb:UpdateTable", "dynamodb:DeleteTable", "dynamodb:UpdateTimeToLive",
              "dynamodb:UpdateContinuousBackups"]


@pytest.fixture(scope="module")
def template():
    return read_template()


def table_policy(template: dict, table: str) -> list[dict]:
    """The table's policy with AdministratorArns set."""
    return statements_of(template["Resources"][table]["Properties"]["ResourcePolicy"]["PolicyDocument"])


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("action", MANAGEMENT)
def test_a_power_user_cannot_remove_the_tables_protection(template, table, action):
    assert denied(table_policy(template, table), action, from_inside(ACCOUNT_USER))


@pytest.mark.parametrize("table", TABLES)
def test_nor_can_a_role_of_the_stack(template, table):
    for role in roles(template):
        for action in MANAGEMENT:
            assert denied(table_policy(template, table), action, from_inside(role_arn(role))), \
                f"{role} may {action} on {table}"


@pytest.mark.parametrize("table", TABLES)
def test_the_administrators_still_may(template, table):
    for action in MANAGEMENT:
        assert not denied(table_policy(template, table), action, from_inside(ADMINISTRATOR)), \
            f"the administrators may not {action} on {table}"
