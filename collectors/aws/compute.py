"""Secrets written into Lambda and ECS configuration, kept as fingerprints only.

The one place values pass through memory: AWS returns environment variables
in the function and task-definition listings. Each is judged by
`posture.model.secretlike.classify_value`; for a secret only the variable
name, the location, the detector, the public prefix and a keyed fingerprint
are kept, and the value is dropped. References to a secret store
(``valueFrom``, ``{{resolve:...}}``, ARNs) are the good pattern, not findings.
"""

from __future__ import annotations

from collectors.aws.calls import Account, AwsCalls
from collectors.aws.scanning import listed
from posture.model.records import CloudResource, SourceFinding
from posture.model.secretlike import classify_value, public_prefix


def _env_finding(aws: AwsCalls, acct: Account, region: str, resource: str, location: str,
                 name: str, value: str, kind: str) -> None:
    detector = classify_value(name, value)
    if detector is None:
        return
    aws.sink.add(SourceFinding(
        id=f"{location}#env:{name}", store=aws.store.name, source="aws", repo=resource,
        category="config_env", detector=detector, path=location, in_tree=True,
        fingerprint=aws.ctx.fingerprint(value), variable=name,
        public_prefix=public_prefix(value), refs=[kind, f"{acct.id}/{region}"],
        message=f"{kind} environment variable {name} holds a literal secret",
    ))


def collect_lambda(aws: AwsCalls, acct: Account, region: str) -> None:
    """Scan every function's environment (``ListFunctions`` already carries it)."""
    fns, complete = aws.pages(acct, region, "lambda", "ListFunctions", "Functions", needs=("FunctionArn",))
    listed(aws, acct, region, "lambda", complete)  # AWS020 passes a region read clean from it
    for f in fns:
        env = ((f.get("Environment") or {}).get("Variables")) or {}
        aws.sink.add(CloudResource(  # what encrypts the environment (AWS's key unless KMSKeyArn names one)
            id=f["FunctionArn"], store=aws.store.name, source="aws", kind="lambda_function",
            name=f.get("FunctionName") or f["FunctionArn"], arn=f["FunctionArn"], account=acct.id, region=region,
            kms_key_id=f.get("KMSKeyArn") or None, has_environment=bool(env),
        ))
        for name, value in env.items():
            _env_finding(aws, acct, region, f["FunctionArn"], f["FunctionArn"], name, value, "lambda")


def collect_ecs(aws: AwsCalls, acct: Account, region: str) -> None:
    """Scan every active task definition's container environments, one task each."""
    arns, complete = aws.pages(acct, region, "ecs", "ListTaskDefinitions", "taskDefinitionArns", status="ACTIVE")
    listed(aws, acct, region, "ecs", complete)
    for arn in arns:
        aws.submit(_task_definition, aws, acct, region, arn)


def _task_definition(aws: AwsCalls, acct: Account, region: str, arn: str) -> None:
    resp = aws.call(acct, region, "ecs", "DescribeTaskDefinition", what=arn, needs=("taskDefinition",),
                    taskDefinition=arn)
    if resp is None:
        return
    for c in resp["taskDefinition"].get("containerDefinitions", []):
        loc = f"{arn}#container={c.get('name')}"
        for e in c.get("environment", []):
            _env_finding(aws, acct, region, arn, loc, e.get("name", ""), e.get("value", ""), "ecs")
