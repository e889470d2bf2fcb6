"""``posture policy suggest`` and ``posture policy generate``: least-privilege policies for the client's identities.

``suggest`` reads the quarter's snapshot (the audit-log access inventory and today's policies)
and prints, per identity, the policy it actually needs and what adopting it removes
(`checks.policy_suggest`). ``generate`` turns an application requirements file into the
service's policy and auth role (`checks.policy_generate`). Neither writes to any store: the
output is for the client to review and apply.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from posture.cli import ClientArg, QuarterOpt, err, printable, quarter_or_current
from posture.commands.policy import policy_app
from posture.model.errors import ConfigError, PostureError


def _write_all(dest: Path, files: dict[str, str]) -> None:
    """Each file written atomically, after every file was built in memory (bad input writes none)."""
    from posture.model.fsutil import atomic_write_text

    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"--out {dest}: not a directory")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {dest}: cannot create: {e.strerror}") from None
    for name, text in files.items():
        atomic_write_text(dest / name, text)


@policy_app.command("suggest")
def suggest(
    client: ClientArg,
    quarter: QuarterOpt = None,
    identity: Annotated[str | None, typer.Option("--identity", "-i", help="Only this identity (as the audit log names it: an auth mount-user/role, or an IAM ARN).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Write <name>.hcl / <name>.json, <name>.diff.txt and suggestions.json here.")] = None,
    collapse_at: Annotated[int, typer.Option("--collapse-at", min=0, help="Siblings needed before a folder/* glob (0: never collapse).")] = 5,
) -> None:
    """Suggest per identity the least-privilege Vault policy (HCL) or IAM policy (JSON) from the audit log.

    From the quarter's snapshot: which identity used which paths with which operations over
    the audit window, and the policies it holds today. Each suggestion grants exactly the
    paths and capabilities observed (one policy per environment, named {service}-{access-level}),
    and lists what today's policies grant beyond it: rules to remove, capabilities to drop,
    secrets it could read and would no longer reach, requests that were denied. AWS identities
    get the same from CloudTrail for Secrets Manager, KMS and SSM.

    Example: posture policy suggest acme -q 2026-Q4 --out suggestions/
    """
    from checks.classify import Classifier
    from checks.policy_suggest import suggest_policies, suggestion_row
    from posture.model.snapshot import Snapshot
    from posture.workspace import Workspace

    ws = Workspace.resolve(client)
    q = quarter_or_current(quarter)
    snap_dir = ws.snapshot_dir(q)
    if not (snap_dir / "manifest.json").is_file():
        raise PostureError(f"no snapshot for {ws.client} {q} at {snap_dir} (run 'posture collect {ws.client} "
                           f"--quarter {q}' first)")
    eng = ws.load().engagement
    snap = Snapshot.load(snap_dir)
    env_of = Classifier(eng.classification, eng.thresholds).environment_of_paths
    found = suggest_policies(snap.frame, env_of, identity=identity, collapse_at=collapse_at)
    if identity and not found:
        raise ConfigError(f"--identity {identity!r}: no granted request of that identity in {ws.client} {q}'s "
                          "audit logs (names are as the log shows them, e.g. approle-payments-api)")
    if not found:
        err.print("no identity with granted requests in the audit logs of this snapshot "
                  "(are audit_logs / cloudtrail_logs configured?)", markup=False)
        return
    files: dict[str, str] = {}
    names: dict[str, int] = {}
    for s in found:
        n = names.get(s.name, 0)
        names[s.name] = n + 1
        if n:
            s.name = f"{s.name}-{n + 1}"
    for s in found:
        diff = _diff_text(s)
        sys.stdout.write(f"=== {printable(s.name)}  ({printable(s.identity)}, store {printable(s.store)}, "
                         f"{printable(s.environment)})\n{printable_block(s.document)}{printable_block(diff)}\n")
        files[s.file_name()] = s.document
        files[f"{s.name}.diff.txt"] = diff
        for g in s.coverage_gaps[:1]:
            err.print(f"incomplete: {printable(s.name)}: {printable(g)}", markup=False)
    if out_dir is not None:
        files["suggestions.json"] = json.dumps([suggestion_row(s) for s in found], indent=2, sort_keys=True) + "\n"
        _write_all(out_dir, files)
        err.print(f"{len(found)} suggestion(s) written to {out_dir}", markup=False)


def printable_block(text: str) -> str:
    """Multi-line text with every line made inert (`posture.cli.printable`)."""
    return "".join(printable(line) + "\n" for line in text.splitlines())


def _diff_text(s) -> str:  # type: ignore[no-untyped-def]
    """The diff against today, as lines a reviewer reads top to bottom."""
    lines = [f"# diff against today ({', '.join(s.current_policies) or 'policies unknown'}):"]
    if not s.current_policies:
        lines.append("#   today's policies of this identity are not in the snapshot: no diff")
    for c in s.changes:
        if c.verdict != "keep":
            lines.append(f"#   - {c.describe()}")
    for p in s.unused_policies:
        lines.append(f"#   - policy {p}: no rule of it decided any request in the window")
    if s.no_longer_reachable_total:
        lines.append(f"#   - {s.no_longer_reachable_total} secret(s) readable today would no longer be: "
                     + ", ".join(s.no_longer_reachable[:10]) + (" ..." if s.no_longer_reachable_total > 10 else ""))
    for d in s.denied[:20]:
        lines.append(f"#   denied (not granted): {d.path} ({d.capability}) x{d.count}")
    for glob, leaves in s.collapsed.items():
        lines.append(f"#   {glob} replaces {len(leaves)} exact paths (every known secret there was used)")
    for why in s.left_out[:20]:
        lines.append(f"#   left out: {why}")
    if s.cross_environment:
        lines.append("#   this identity works in several environments: one policy each; better one identity each")
    for g in s.coverage_gaps:
        lines.append(f"#   INCOMPLETE: {g}")
    if not s.covers_all_observed:
        lines.append("#   WARNING: the suggestion does not allow every observed request (report this)")
    return "\n".join(lines) + "\n"


@policy_app.command("generate")
def generate(
    requirements: Annotated[Path, typer.Argument(help="Application requirements YAML (service, environment, secrets, runs_on).")],
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Write <policy>.hcl, <policy>.auth.json and <policy>.sh here.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the API requests as JSON instead of CLI commands.")] = False,
    binary: Annotated[str, typer.Option("--cli", help="CLI name in the printed commands: vault or bao.")] = "vault",
) -> None:
    """Generate a service's policy and auth config from its requirements file.

    The policy is named {service}-{access-level} with one exact path per declared secret under
    <mount>/data/<environment>/. The auth role follows how the service runs: batch/service ->
    AppRole (token_ttl 1h, token_max_ttl 4h, secret_id_ttl 10m, single-use secret ids);
    kubernetes -> a role bound to the service account and namespace (ttl 1h); ci -> a JWT role
    with bound claims (token_ttl 15m). Prints Vault CLI commands (or, with --json, the API
    requests); nothing is applied. A mistake in the file is one line FILE:LINE: field: message
    and exit code 2.

    Example: posture policy generate payments-api.yaml --out generated/
    """
    from checks.policy_generate import generate as build
    from posture.model.app_requirements import load_requirements

    if binary not in ("vault", "bao"):
        raise ConfigError(f"--cli {binary!r}: expected vault or bao")
    req = load_requirements(requirements)
    cfg = build(req, source=requirements.name)
    payload = json.dumps(cfg.payload(), indent=2) + "\n"
    cli = cfg.cli(binary)
    sys.stdout.write(payload if json_output else cli)
    if out_dir is not None:
        _write_all(out_dir, {f"{cfg.policy_name}.hcl": cfg.policy_hcl, f"{cfg.policy_name}.auth.json": payload,
                             f"{cfg.policy_name}.sh": cli})
        err.print(f"written to {out_dir}", markup=False)
