"""Regional controls around secrets: IAM Access Analyzer, EKS secrets encryption.

- Access Analyzer (``ListAnalyzers``, per region): an active account or
  organization analyzer is what reports secrets, keys and roles shared outside
  the account. A region without one is a `CloudResource` with ``enabled=False``.
- EKS (``ListClusters``, one ``DescribeCluster`` each): a cluster whose
  ``encryptionConfig`` does not cover ``secrets`` keeps Kubernetes Secrets in
  etcd under EKS's own disk encryption only, readable by anyone with etcd access.

Metadata only: neither answer carries a value.
"""

from __future__ import annotations

from collectors.aws.calls import Account, AwsCalls
from collectors.aws.scanning import listed, scope_of
from posture.model.records import CloudResource

TABLES = ["cloud_resource"]


def collect_access_analyzer(aws: AwsCalls, acct: Account, region: str) -> None:
    """One row per region: is an ACTIVE analyzer there (any type)?"""
    analyzers, complete = aws.pages(acct, region, "accessanalyzer", "ListAnalyzers", "analyzers", tables=TABLES,
                                    scope=scope_of(acct, region, "accessanalyzer"))
    if not complete:
        return  # the gap says why; no row claims the region has none
    active = sorted(a.get("name", "") for a in analyzers if a.get("status") == "ACTIVE")
    aws.sink.add(CloudResource(
        id=f"arn:aws:access-analyzer:{region}:{acct.id}:analyzers", store=aws.store.name, source="aws",
        kind="access_analyzer", name=", ".join(active) or f"no analyzer in {region}", account=acct.id,
        region=region, enabled=bool(active),
    ))


def collect_eks(aws: AwsCalls, acct: Account, region: str) -> None:
    """Clusters; each is described in its own task."""
    names, complete = aws.pages(acct, region, "eks", "ListClusters", "clusters", tables=TABLES,
                                scope=scope_of(acct, region, "eks"))
    listed(aws, acct, region, "eks", complete)
    for name in names:
        aws.submit(_cluster, aws, acct, region, name)


def _cluster(aws: AwsCalls, acct: Account, region: str, name: str) -> None:
    resp = aws.call(acct, region, "eks", "DescribeCluster", what=name, tables=TABLES,
                    scope=scope_of(acct, region, "eks"), needs=("cluster",), name=name)
    if resp is None:
        return
    c = resp["cluster"]
    secrets = [e for e in c.get("encryptionConfig") or [] if "secrets" in (e.get("resources") or [])]
    key = (secrets[0].get("provider") or {}).get("keyArn") if secrets else None
    aws.sink.add(CloudResource(
        id=c.get("arn") or f"arn:aws:eks:{region}:{acct.id}:cluster/{name}", store=aws.store.name, source="aws",
        kind="eks_cluster", name=name, arn=c.get("arn"), account=acct.id, region=region,
        encrypted=bool(secrets), kms_key_id=key,
    ))
