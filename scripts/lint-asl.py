#!/usr/bin/env python3
"""Lint the state machine definition against template.yaml and docs/workflow-contract.md.

For every state machine in the template whose definition is a local file (an
AWS::Serverless::StateMachine's DefinitionUri or an AWS::StepFunctions::StateMachine's
DefinitionS3Location, both uploaded by `sam deploy`):

1. every ${Name} placeholder in the file has a DefinitionSubstitutions entry, and every entry is
   used (a placeholder left over reaches AWS as literal text);
2. the file is valid JSON before and after substitution;
3. its states are exactly those of the contract's States table; every Task has a Retry, a Catch
   ending with States.ALL, and TimeoutSeconds or TimeoutSecondsPath; every Choice a Default;
4. the approval deadline is configuration, not arithmetic: no intrinsic computes it, the state
   read through TimeoutSecondsPath comes from the Analyse function's output, and that function
   gets APPROVAL_TIMEOUT in its environment;
5. the states of the functions that write IAM (Quarantine, Restore) pass them the execution and
   nothing else: the functions read their input from the execution's history (THREAT-MODEL.md);
6. the functions' timeouts (Globals `Timeout`, and each function's own) are the ones
   `remediation::setup` sizes their SDK limits for, and the Globals one is shorter than every
   Task's `TimeoutSeconds`, so a step is never retried while its function still runs;
7. `asl-validator --json-path` (npm) and `statelint` (PyPI) accept the definition with dummy,
   well-formed values in place of the placeholders (function ARNs, the parameter's default).

The substituted definition is written to target/lint/ for reading. Exit status 1 on any finding.

Usage: scripts/lint-asl.py [template.yaml]   (asl-validator from node_modules/.bin, statelint
from the Python environment running this script)
"""

import json
import re
import subprocess
import sys
from pathlib import Path

from samcli.yamlhelper import yaml_parse

CONTRACT = Path("docs/workflow-contract.md")
ASL_VALIDATOR = Path("node_modules/.bin/asl-validator")
STATELINT = Path(sys.executable).parent / "statelint"
OUT_DIR = Path("target/lint")
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
DUMMY_ACCOUNT = "123456789012"
DUMMY_REGION = "us-east-1"

# Where each kind of state machine names its definition file.
DEFINITION_FILE = {
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::StepFunctions::StateMachine": "DefinitionS3Location",
}

# The state field RequestApproval reads through TimeoutSecondsPath, the function whose output
# holds it, and the environment variable that function reads it from.
DEADLINE_FIELD = "approvalTimeoutSeconds"
DEADLINE_SOURCE = ("AnalyseChangeFunctionArn", "APPROVAL_TIMEOUT")

problems = []


def problem(message):
    problems.append(message)
    print(f"  FAIL {message}")


def contract_states():
    """State names in the first column of the contract's '## States' table."""
    text = CONTRACT.read_text()
    section = text.split("## States", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Za-z]+)`", first_cell))
    return names


def dummy_value(name, value, template):
    """A well-formed stand-in for one DefinitionSubstitutions value."""
    resources = template.get("Resources", {})
    parameters = template.get("Parameters", {})
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target, attribute = value["Fn::GetAtt"]
        if resources.get(target, {}).get("Type") == "AWS::Serverless::Function" and attribute == "Arn":
            return f"arn:aws:lambda:{DUMMY_REGION}:{DUMMY_ACCOUNT}:function:iam-sentinel-{target}"
    if isinstance(value, dict) and "Ref" in value and value["Ref"] in parameters:
        parameter = parameters[value["Ref"]]
        if "Default" in parameter:
            return str(parameter["Default"])
    if isinstance(value, (str, int, float)):
        return str(value)
    sys.exit(f"lint-asl: no dummy value known for substitution {name}: {value!r}; teach dummy_value()")


def substitute(text, values):
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def check_structure(definition):
    states = definition["States"]
    expected = contract_states()
    if not expected:
        problem(f"no state names found in {CONTRACT}'s States table")
    if set(states) != expected:
        missing = sorted(expected - set(states))
        extra = sorted(set(states) - expected)
        problem(f"states differ from {CONTRACT}: missing {missing}, not in the contract {extra}")
    for name, state in states.items():
        if "Comment" not in state:
            problem(f"{name}: no Comment saying why it exists")
        if state["Type"] == "Task":
            if not state.get("Retry"):
                problem(f"{name}: Task without Retry")
            catches = state.get("Catch") or []
            if not catches or catches[-1]["ErrorEquals"] != ["States.ALL"]:
                problem(f"{name}: Task whose last Catch is not States.ALL")
            if "TimeoutSeconds" not in state and "TimeoutSecondsPath" not in state:
                problem(f"{name}: Task without TimeoutSeconds or TimeoutSecondsPath")
            for index, catch in enumerate(catches):
                if "States.ALL" in catch["ErrorEquals"] and index != len(catches) - 1:
                    problem(f"{name}: States.ALL catch is not last, later catches never run")
        if state["Type"] == "Choice" and "Default" not in state:
            problem(f"{name}: Choice without Default")


# The states whose functions write IAM, and the one thing the state machine may pass them.
WRITER_STEPS = ("Quarantine", "Restore")
WRITER_PARAMETERS = {"executionArn.$": "$$.Execution.Id"}


def check_writer_steps(definition):
    for name in WRITER_STEPS:
        state = definition["States"].get(name)
        if state is None:
            problem(f"no {name} state: the writer functions look for their step by this name")
        elif state.get("Parameters") != WRITER_PARAMETERS:
            problem(f"{name}: Parameters must be exactly {WRITER_PARAMETERS}, not "
                    f"{state.get('Parameters')}: a writer takes nothing from its caller")
        else:
            print(f"  ok   {name} gets the execution only")


def check_deadline(raw_text, raw_definition, substitutions, template):
    if "States.Math" in raw_text:
        problem("the definition does arithmetic (States.Math...): configuration belongs in a function")
    readers = [
        name
        for name, state in raw_definition["States"].items()
        if state.get("TimeoutSecondsPath") == f"$.{DEADLINE_FIELD}"
    ]
    if not readers:
        problem(f"no state reads $.{DEADLINE_FIELD} through TimeoutSecondsPath")
    placeholder, variable = DEADLINE_SOURCE
    function = (substitutions.get(placeholder) or {}).get("Fn::GetAtt", [None])[0]
    environment = (
        template.get("Resources", {}).get(function, {}).get("Properties", {})
        .get("Environment", {}).get("Variables", {})
    )
    if variable not in environment:
        problem(f"{function}: no {variable} in its environment, so no state gets ${DEADLINE_FIELD}")
    else:
        print(f"  ok   {DEADLINE_FIELD} comes from {function} ({variable}), read by {', '.join(readers)}")


SETUP_RS = Path("crates/remediation/src/setup.rs")
# `FUNCTION_TIMEOUT` is the Globals one; `START_INCIDENT_TIMEOUT` is StartIncidentFunction's own.
DECLARED_TIMEOUT = re.compile(r"pub const (\w+)_TIMEOUT: Duration = Duration::from_secs\((\d+)\)")


# The retries every Lambda Task has (docs/workflow-contract.md#timeouts-and-retries): each error
# name must be retried by some rule of the Task. RequestApproval's States.Timeout is its deadline.
RETRIED = ["Lambda.TooManyRequestsException", "Retryable", "Lambda.ServiceException",
           "Lambda.AWSLambdaException", "Lambda.SdkClientException",
           "Lambda.ClientExecutionTimeoutException", "Lambda.Unknown", "Sandbox.Timedout",
           "Runtime.ExitError", "Runtime.OutOfMemory", "States.Timeout"]
DEADLINE_TASK = "RequestApproval"


def check_retries(definition):
    for name, state in definition["States"].items():
        if state["Type"] != "Task":
            continue
        retried = {error for rule in state.get("Retry", []) for error in rule["ErrorEquals"]}
        expected = [e for e in RETRIED if not (name == DEADLINE_TASK and e == "States.Timeout")]
        missing = [e for e in expected if e not in retried]
        if missing:
            problem(f"{name}: does not retry {missing}")
        if name == DEADLINE_TASK and "States.Timeout" in retried:
            problem(f"{name}: retries States.Timeout, its approval deadline: it would never time out")
    print("  ok   every Task retries throttling, transient errors, timeouts and crashes")


def check_timeouts(definition, template):
    declared = {name: int(seconds) for name, seconds in DECLARED_TIMEOUT.findall(SETUP_RS.read_text())}
    function_timeout = template.get("Globals", {}).get("Function", {}).get("Timeout")
    if not isinstance(function_timeout, int) or "FUNCTION" not in declared:
        problem(f"no Globals Function Timeout, or no FUNCTION_TIMEOUT in {SETUP_RS}")
        return
    own = {logical_id: resource["Properties"]["Timeout"]
           for logical_id, resource in template.get("Resources", {}).items()
           if resource.get("Type") == "AWS::Serverless::Function"
           and "Timeout" in resource.get("Properties", {})}
    expected = {"Globals": function_timeout, **own}
    for name, seconds in declared.items():
        where = "Globals" if name == "FUNCTION" else \
            "".join(part.capitalize() for part in name.split("_")) + "Function"
        if expected.pop(where, None) != seconds:
            problem(f"{SETUP_RS} {name}_TIMEOUT is {seconds} s, the template's {where} Timeout "
                    "is not")
    for where, seconds in expected.items():
        problem(f"{where} has its own Timeout ({seconds} s) but {SETUP_RS} declares none: its "
                "SDK limits would not fit it")
    for name, state in definition["States"].items():
        seconds = state.get("TimeoutSeconds")
        if state["Type"] == "Task" and seconds is not None and seconds <= function_timeout:
            problem(f"{name}: TimeoutSeconds {seconds} is not longer than the functions' "
                    f"{function_timeout} s: the step could be retried while its function runs")
    print(f"  ok   the functions' timeouts are setup.rs's ({', '.join(f'{k} {v} s' for k, v in declared.items())}); "
          f"every Task's is longer than {function_timeout} s")


def run(command):
    result = subprocess.run([str(part) for part in command], check=False, capture_output=True, text=True)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        problem(f"{Path(command[0]).name}: {output}")
    else:
        print(f"  ok   {Path(command[0]).name}: {output or 'no findings'}")


def lint_state_machine(logical_id, kind, properties, template, base):
    path = base / properties[DEFINITION_FILE[kind]]
    print(f"{logical_id}: {path}")
    text = path.read_text()
    substitutions = properties.get("DefinitionSubstitutions", {})

    placeholders = set(PLACEHOLDER.findall(text))
    for name in sorted(placeholders - set(substitutions)):
        problem(f"${{{name}}} has no DefinitionSubstitutions entry in the template")
    for name in sorted(set(substitutions) - placeholders):
        problem(f"DefinitionSubstitutions entry {name} is never used in {path}")
    if problems:
        return

    try:
        raw_definition = json.loads(text)
    except json.JSONDecodeError as error:
        problem(f"{path} is not valid JSON: {error}")
        return
    values = {name: dummy_value(name, value, template) for name, value in substitutions.items()}
    substituted_text = substitute(text, values)
    try:
        definition = json.loads(substituted_text)
    except json.JSONDecodeError as error:
        problem(f"{path} is not valid JSON once substituted: {error}")
        return
    print(f"  ok   {len(placeholders)} placeholders, each with a substitution; valid JSON before and after")

    check_structure(definition)
    check_deadline(text, raw_definition, substitutions, template)
    check_writer_steps(definition)
    check_timeouts(definition, template)
    check_retries(definition)

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / path.name
    out.write_text(substituted_text)
    run([ASL_VALIDATOR, "--json-path", out])
    run([STATELINT, out])


def main():
    template_path = Path(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
    template = yaml_parse(template_path.read_text())
    found = 0
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource.get("Type")
        if kind not in DEFINITION_FILE:
            continue
        properties = resource.get("Properties", {})
        uri = properties.get(DEFINITION_FILE[kind])
        if isinstance(uri, str) and not uri.startswith("s3://"):
            found += 1
            lint_state_machine(logical_id, kind, properties, template, template_path.parent)
    if not found:
        problem(f"no state machine with a local definition file in {template_path}")
    if problems:
        sys.exit(f"lint-asl: {len(problems)} problem(s)")
    print("lint-asl: state machine definitions OK")


if __name__ == "__main__":
    main()
