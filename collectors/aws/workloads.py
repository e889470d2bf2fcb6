"""Secrets written into workload definitions: Batch, Step Functions, API Gateway, Elastic
Beanstalk, Glue and SageMaker, scanned in memory.

Each of these APIs returns the definition with whatever was written into it:
Batch job definitions' container environments, state machine definitions,
REST API stage variables, Beanstalk option settings (environment properties
and ``aws:rds:dbinstance`` passwords alike), Glue connection properties
(``GetConnections`` with ``HidePassword=False``: a password kept in the
connection instead of Secrets Manager is the finding) and job arguments,
SageMaker notebook lifecycle scripts (base64). One module for six small
readers: they differ only in where the definition sits in the answer.
"""

from __future__ import annotations

from typing import Any

from collectors.aws.calls import Account, AwsCalls
from collectors.aws.scanning import Findings, decode_base64_text, listed, scope_of

TABLES = ["source_finding"]


def collect_batch(aws: AwsCalls, acct: Account, region: str) -> None:
    """Active job definitions (every revision carries its own environment)."""
    defs, complete = aws.pages(acct, region, "batch", "DescribeJobDefinitions", "jobDefinitions", tables=TABLES,
                               scope=scope_of(acct, region, "batch"), needs=("jobDefinitionArn",), status="ACTIVE")
    listed(aws, acct, region, "batch", complete)
    for d in defs:
        arn = d["jobDefinitionArn"]
        body = {k: d.get(k) for k in ("containerProperties", "nodeProperties", "eksProperties", "ecsProperties",
                                      "parameters") if d.get(k)}
        Findings(aws, acct, region, "batch_job_definition", arn).definition(f"{arn}#definition", body,
                                                                            "Batch job definition")


def collect_stepfunctions(aws: AwsCalls, acct: Account, region: str) -> None:
    """State machines; each definition is described in its own task."""
    machines, complete = aws.pages(acct, region, "stepfunctions", "ListStateMachines", "stateMachines",
                                   tables=TABLES, scope=scope_of(acct, region, "stepfunctions"),
                                   needs=("stateMachineArn",))
    listed(aws, acct, region, "stepfunctions", complete)
    for m in machines:
        aws.submit(_state_machine, aws, acct, region, m["stateMachineArn"])


def _state_machine(aws: AwsCalls, acct: Account, region: str, arn: str) -> None:
    resp = aws.call(acct, region, "stepfunctions", "DescribeStateMachine", what=arn, tables=TABLES,
                    scope=scope_of(acct, region, "stepfunctions"), stateMachineArn=arn)
    if resp is not None:
        Findings(aws, acct, region, "step_functions", arn).definition(
            f"{arn}#definition", resp.get("definition"), "Step Functions definition")


def collect_apigateway(aws: AwsCalls, acct: Account, region: str) -> None:
    """REST APIs; each API's stages (with their variables) are one task."""
    apis, complete = aws.pages(acct, region, "apigateway", "GetRestApis", "items", tables=TABLES,
                               scope=scope_of(acct, region, "apigateway"), needs=("id",))
    listed(aws, acct, region, "apigateway", complete)
    for a in apis:
        aws.submit(_stages, aws, acct, region, a["id"])


def _stages(aws: AwsCalls, acct: Account, region: str, api_id: str) -> None:
    resp = aws.call(acct, region, "apigateway", "GetStages", what=api_id, tables=TABLES,
                    scope=scope_of(acct, region, "apigateway"), needs=("item",), restApiId=api_id)
    for st in (resp or {}).get("item") or []:
        arn = f"arn:aws:apigateway:{region}::/restapis/{api_id}/stages/{st.get('stageName')}"
        found = Findings(aws, acct, region, "apigateway_stage", arn)
        for name, value in (st.get("variables") or {}).items():
            found.add(f"{arn}#variables", str(name), str(value), what="API Gateway stage variable")


def collect_beanstalk(aws: AwsCalls, acct: Account, region: str) -> None:
    """Environments; each environment's option settings are one task."""
    envs, complete = aws.pages(acct, region, "elasticbeanstalk", "DescribeEnvironments", "Environments",
                               tables=TABLES, scope=scope_of(acct, region, "elasticbeanstalk"),
                               needs=("EnvironmentName", "ApplicationName"))
    listed(aws, acct, region, "elasticbeanstalk", complete)
    for e in envs:
        if e.get("Status") != "Terminated":
            aws.submit(_option_settings, aws, acct, region, e)


def _option_settings(aws: AwsCalls, acct: Account, region: str, e: dict[str, Any]) -> None:
    name = e["EnvironmentName"]
    resp = aws.call(acct, region, "elasticbeanstalk", "DescribeConfigurationSettings", what=name, tables=TABLES,
                    scope=scope_of(acct, region, "elasticbeanstalk"), ApplicationName=e["ApplicationName"],
                    EnvironmentName=name)
    arn = e.get("EnvironmentArn") or (
        f"arn:aws:elasticbeanstalk:{region}:{acct.id}:environment/{e['ApplicationName']}/{name}")
    found = Findings(aws, acct, region, "beanstalk_option", arn)
    for cs in (resp or {}).get("ConfigurationSettings") or []:
        for o in cs.get("OptionSettings") or []:
            if isinstance(o.get("Value"), str) and o.get("OptionName"):
                found.add(f"{arn}#option={o.get('Namespace')}", o["OptionName"], o["Value"],
                          what="Elastic Beanstalk option setting")


def collect_glue(aws: AwsCalls, acct: Account, region: str) -> None:
    """Connections (with passwords shown, to find them) and jobs' arguments."""
    scope = scope_of(acct, region, "glue")
    conns, ok_c = aws.pages(acct, region, "glue", "GetConnections", "ConnectionList", tables=TABLES, scope=scope,
                            needs=("Name",), HidePassword=False)
    jobs, ok_j = aws.pages(acct, region, "glue", "GetJobs", "Jobs", tables=TABLES, scope=scope, needs=("Name",))
    listed(aws, acct, region, "glue", ok_c and ok_j)
    for c in conns:
        arn = f"arn:aws:glue:{region}:{acct.id}:connection/{c['Name']}"
        found = Findings(aws, acct, region, "glue_connection", arn)
        for k, v in {**(c.get("ConnectionProperties") or {}), **(c.get("SparkProperties") or {})}.items():
            found.add(f"{arn}#properties", str(k), str(v), what="Glue connection property", strict=True)
    for j in jobs:
        arn = f"arn:aws:glue:{region}:{acct.id}:job/{j['Name']}"
        found = Findings(aws, acct, region, "glue_job", arn)
        for k, v in {**(j.get("DefaultArguments") or {}), **(j.get("NonOverridableArguments") or {})}.items():
            found.add(f"{arn}#arguments", str(k), str(v), what="Glue job argument")


def collect_sagemaker(aws: AwsCalls, acct: Account, region: str) -> None:
    """Notebook instance lifecycle configurations; each one's scripts are one task.

    When the configurations cannot be listed (refused, or an emulator without
    the API) the gap stays, and the configurations notebook instances name
    (``ListNotebookInstances``) are still read.
    """
    scope = scope_of(acct, region, "sagemaker")
    configs, complete = aws.pages(acct, region, "sagemaker", "ListNotebookInstanceLifecycleConfigs",
                                  "NotebookInstanceLifecycleConfigs", tables=TABLES, scope=scope,
                                  needs=("NotebookInstanceLifecycleConfigName",))
    listed(aws, acct, region, "sagemaker", complete)
    names = {c["NotebookInstanceLifecycleConfigName"] for c in configs}
    if not complete:
        instances, _ = aws.pages(acct, region, "sagemaker", "ListNotebookInstances", "NotebookInstances",
                                 tables=TABLES, scope=scope)
        names |= {i["NotebookInstanceLifecycleConfigName"] for i in instances
                  if isinstance(i, dict) and i.get("NotebookInstanceLifecycleConfigName")}
    for name in sorted(names):
        aws.submit(_lifecycle_config, aws, acct, region, name)


def _lifecycle_config(aws: AwsCalls, acct: Account, region: str, name: str) -> None:
    resp = aws.call(acct, region, "sagemaker", "DescribeNotebookInstanceLifecycleConfig", what=name, tables=TABLES,
                    scope=scope_of(acct, region, "sagemaker"), NotebookInstanceLifecycleConfigName=name)
    if resp is None:
        return
    arn = resp.get("NotebookInstanceLifecycleConfigArn") or (
        f"arn:aws:sagemaker:{region}:{acct.id}:notebook-instance-lifecycle-config/{name}")
    found = Findings(aws, acct, region, "sagemaker_lifecycle", arn)
    for hook in ("OnCreate", "OnStart"):
        for i, part in enumerate(resp.get(hook) or []):
            found.text(f"{arn}#{hook}[{i}]", decode_base64_text(part.get("Content")), "SageMaker lifecycle script")
