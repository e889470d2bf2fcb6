"""Secrets in what an account publishes: CloudFormation stack outputs and parameters, SSM documents.

``DescribeStacks`` returns every stack's outputs and (non-NoEcho) parameters
in clear: anyone with ``cloudformation:DescribeStacks`` reads them, and
exported outputs flow into other stacks. Key and value are judged together,
so an output named ``AdminPassword`` holding a literal is a finding although
the value alone looks like any word (`scanning.judge`, strict: generated
identifiers such as client ids are not).

SSM documents the account owns (``ListDocuments`` ``Owner=Self``) are read
with ``GetDocument`` (parameter defaults judged like variables, the content
scanned like a script) and ``DescribeDocumentPermission`` says who they are
shared with: ``all`` is every AWS account.
"""

from __future__ import annotations

import json
from typing import Any

from collectors.aws.calls import Account, AwsCalls
from collectors.aws.scanning import Findings, listed, scope_of
from posture.model.bounded_yaml import YamlInputError, load_bounded_yaml
from posture.model.records import CloudResource

TABLES = ["source_finding"]
DOC_TABLES = ["source_finding", "cloud_resource"]


def collect_cloudformation(aws: AwsCalls, acct: Account, region: str) -> None:
    """Every stack's outputs and parameters (one listing carries them all)."""
    stacks, complete = aws.pages(acct, region, "cloudformation", "DescribeStacks", "Stacks", tables=TABLES,
                                 scope=scope_of(acct, region, "cloudformation"), needs=("StackName",))
    listed(aws, acct, region, "cloudformation", complete)
    for st in stacks:
        if st.get("StackStatus") == "DELETE_COMPLETE":
            continue
        arn = st.get("StackId") or st["StackName"]
        found = Findings(aws, acct, region, "cloudformation_output", arn, category="published_output")
        for o in st.get("Outputs") or []:
            if isinstance(o.get("OutputValue"), str):
                found.add(f"{arn}#outputs", str(o.get("OutputKey", "")), o["OutputValue"],
                          what="CloudFormation stack output", strict=True)
        for p in st.get("Parameters") or []:
            if isinstance(p.get("ParameterValue"), str):
                found.add(f"{arn}#parameters", str(p.get("ParameterKey", "")),
                          p["ParameterValue"], what="CloudFormation stack parameter", strict=True)


def collect_ssm_documents(aws: AwsCalls, acct: Account, region: str) -> None:
    """The account's own documents; each one's content and sharing is one task."""
    docs, complete = aws.pages(acct, region, "ssm", "ListDocuments", "DocumentIdentifiers", tables=DOC_TABLES,
                               scope=scope_of(acct, region, "ssm-documents"), needs=("Name",),
                               Filters=[{"Key": "Owner", "Values": ["Self"]}])
    listed(aws, acct, region, "ssm-documents", complete)
    for d in docs:
        aws.submit(_document, aws, acct, region, d["Name"])


def _document(aws: AwsCalls, acct: Account, region: str, name: str) -> None:
    scope = scope_of(acct, region, "ssm-documents")
    arn = f"arn:aws:ssm:{region}:{acct.id}:document/{name}"
    share = aws.call(acct, region, "ssm", "DescribeDocumentPermission", what=name, tables=["cloud_resource"],
                     scope=scope, Name=name, PermissionType="Share")
    if share is not None:
        aws.sink.add(CloudResource(
            id=arn, store=aws.store.name, source="aws", kind="ssm_document", name=name, arn=arn,
            account=acct.id, region=region, shared_with=sorted(str(a) for a in share.get("AccountIds") or []),
        ))
    doc = aws.call(acct, region, "ssm", "GetDocument", what=name, tables=TABLES, scope=scope, Name=name)
    content = (doc or {}).get("Content")
    if not isinstance(content, str):
        return
    found = Findings(aws, acct, region, "ssm_document", arn, category="published_output")
    for param, spec in _parameters(content).items():
        default = spec.get("default") if isinstance(spec, dict) else None
        if isinstance(default, str):
            found.add(f"{arn}#parameters", str(param), default, what="SSM document parameter default")
    found.text(f"{arn}#content", content, "SSM document")


def _parameters(content: str) -> dict[str, Any]:
    """The document's ``parameters`` (JSON or YAML); {} when it has none or does not parse."""
    try:
        doc = json.loads(content)
    except ValueError:
        try:
            doc = load_bounded_yaml(content)
        except YamlInputError:
            return {}
    params = doc.get("parameters") if isinstance(doc, dict) else None
    return dict(params) if isinstance(params, dict) else {}
