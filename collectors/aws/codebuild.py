"""CodeBuild: secrets in projects' plaintext environment variables, inline buildspecs and source URLs.

``BatchGetProjects`` returns each project with its environment variables in
clear (type ``PLAINTEXT``; ``PARAMETER_STORE`` and ``SECRETS_MANAGER`` hold
references, the good pattern), its inline buildspec and its source locations.
A source URL carrying a credential is judged for every host (a token in the
user part, ``user:password@``, a token parameter), not only Bitbucket's.
"""

from __future__ import annotations

from collectors.aws.calls import Account, AwsCalls
from collectors.aws.scanning import Findings, listed, scope_of

TABLES = ["source_finding"]
BATCH = 100  # BatchGetProjects takes at most 100 names


def collect(aws: AwsCalls, acct: Account, region: str) -> None:
    """List project names; each batch of 100 is described in its own task."""
    scope = scope_of(acct, region, "codebuild")
    names, complete = aws.pages(acct, region, "codebuild", "ListProjects", "projects", tables=TABLES, scope=scope)
    listed(aws, acct, region, "codebuild", complete)
    for i in range(0, len(names), BATCH):
        aws.submit(_projects, aws, acct, region, names[i:i + BATCH])


def _projects(aws: AwsCalls, acct: Account, region: str, names: list[str]) -> None:
    resp = aws.call(acct, region, "codebuild", "BatchGetProjects", tables=TABLES,
                    scope=scope_of(acct, region, "codebuild"), needs=("projects",), names=names)
    if resp is None:
        return
    for p in resp["projects"]:
        arn = p.get("arn") or f"arn:aws:codebuild:{region}:{acct.id}:project/{p.get('name')}"
        env = Findings(aws, acct, region, "codebuild_env", arn)
        for v in (p.get("environment") or {}).get("environmentVariables") or []:
            if v.get("type", "PLAINTEXT") == "PLAINTEXT" and isinstance(v.get("value"), str):
                env.add(f"{arn}#env", str(v.get("name", "")), v["value"],
                        what="CodeBuild plaintext environment variable")
        src = Findings(aws, acct, region, "codebuild_source", arn)
        for s in [p.get("source") or {}, *(p.get("secondarySources") or [])]:
            where = f"{arn}#source={s.get('sourceIdentifier') or 'primary'}"
            if isinstance(s.get("location"), str):
                src.add(where, "location", s["location"], what="CodeBuild source URL")
            if isinstance(s.get("buildspec"), str):
                env.text(f"{where}/buildspec", s["buildspec"], "CodeBuild inline buildspec")
