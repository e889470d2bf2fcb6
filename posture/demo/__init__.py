"""``posture demo``: the whole pipeline on a fictional client, in one command.

A newcomer should see the real thing, not a mock-up: the demo starts a real
OpenBao dev server and a moto AWS server on loopback, seeds a fictional
client's estate ("Northwind Payments", client id ``northwind``) through the
same estate modules the tests use (``posture.demo.estates.{vault,aws,git,audit}``),
writes an ordinary engagement file, and runs collect -> assess -> publish for
two quarters with some findings fixed in between, so the site shows a trend
and ``posture diff`` has something to say.

Where things live:

- ``WORKSPACE/`` (default ``./demo-workspace``) is an ordinary workspace
  (engagements/, evidence/, sites/) that any other ``posture`` command can use
  afterwards. A ``.posture-demo`` marker says the demo made it.
- The estate itself (the OpenBao data and audit logs, the CloudTrail files,
  the two seeded git repositories with their planted leaks) lives in a
  temporary directory outside the workspace and is removed with the servers:
  it contains the demo's secret values, and nothing the kit writes may. The
  engagement file keeps the (then dead) addresses for reference; it is
  rewritten before each quarter, as a consultant would (new attestations).
- Both quarters are collected minutes apart from the same live servers; the
  ``--quarter`` label is what separates them, and each assessment is as of
  its collection time.

Credentials reach the collectors the ordinary way, through the environment of
this process (``VAULT_TOKEN``, ``AWS_*``), set for the run and restored after;
they are never written to a file.

Re-running into a workspace that already holds the demo's evidence is refused
(evidence is immutable); ``--force`` wipes only the demo client's own folders
in a workspace the demo created, and rebuilds them from scratch.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from posture.model.errors import ConfigError, PostureError
from posture.workspace import QUARTER_RE, Workspace, current_quarter, parse_quarter, quarter_end

DEMO_CLIENT = "northwind"
DEMO_CLIENT_NAME = "Northwind Payments"
MARKER = ".posture-demo"


#: The only secret values in the demo estate. They are canaries: the demo test
#: asserts that none of them appears in any file of the workspace.
DEMO_VALUES: tuple[str, ...] = (
    "DEMO-CANARY-3f9a1c7e-vault-value",
    "DEMO-CANARY-8b2e5d40-aws-value",
    "DEMO-CANARY-c41f9a62-git-value",
    "DEMO-CANARY-5e7d2b19-param-value",
    "DEMO-CANARY-9d0b7e33-user-password",
)

#: Engagement store names (the git stores are named after their repositories).
VAULT_STORE, AWS_STORE = "core", "main"


# --- small pieces ----------------------------------------------------------------


def previous_quarter(q: str) -> str:
    """The quarter before ``q`` (``2026-Q1`` -> ``2025-Q4``)."""
    m = QUARTER_RE.match(parse_quarter(q))
    assert m
    year, n = int(m.group(1)), int(m.group(2))
    return f"{year - 1}-Q4" if n == 1 else f"{year}-Q{n - 1}"


@contextmanager
def scoped_environ(values: dict[str, str], drop_prefixes: tuple[str, ...] = ()) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` (dropping ``drop_prefixes``) and restore it after.

    The collectors take credentials from the environment like every other
    tool, so the demo hands them over here rather than in a file.
    """
    saved = dict(os.environ)
    try:
        for k in list(os.environ):
            if k.startswith(drop_prefixes):
                del os.environ[k]
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class PhaseTimer:
    """Wall time per phase, printed as the demo goes and kept for BENCHMARKS.md."""

    console: Console
    phases: list[tuple[str, float]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    step: int = 0
    total: int = 0

    @contextmanager
    def phase(self, name: str, key: str | None = None) -> Iterator[None]:
        """Print ``name``, time the block, record it under ``key`` (short) or ``name``."""
        self.step += 1
        prefix = f"[{self.step}/{self.total}]" if self.total else f"[{self.step}]"
        self.console.print(f"[bold cyan]{prefix}[/] {name}", highlight=False)
        t0 = time.perf_counter()
        ok = False
        try:
            yield
            ok = True
        finally:
            dt = time.perf_counter() - t0
            self.phases.append((key or name, dt))
            mark = "[green]done[/]" if ok else "[red]failed[/]"
            self.console.print(f"    {mark} in {dt:.1f}s", highlight=False)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


@dataclass
class DemoResult:
    workspace: Path
    client: str
    quarters: tuple[str, str]
    site_dir: Path
    diff: dict[str, Any]
    phases: list[tuple[str, float]]
    wall_seconds: float
    secret_values: tuple[str, ...] = ()
    #: What ran, so a caller can check that it is gone afterwards.
    vault_address: str = ""
    aws_endpoint: str = ""
    bao_pid: int | None = None
    estate_dir: Path | None = None


# --- the workspace -----------------------------------------------------------------


def prepare_workspace(root: Path, client: str, force: bool) -> None:
    """Create or reuse ``root``; never clobber evidence that is not the demo's own.

    - a missing or empty folder is used as is;
    - a folder without the demo marker is refused (it may be a real workspace);
    - the demo's marker with existing evidence for ``client`` is refused unless
      ``force``, which wipes only ``engagements/CLIENT``, ``evidence/CLIENT`` and
      ``sites/CLIENT``.
    """
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} exists and is not a directory")
    if root.exists() and any(root.iterdir()) and not (root / MARKER).exists():
        raise ConfigError(
            f"{root} is not empty and was not made by 'posture demo': "
            "choose another --workspace (the demo never writes into a real workspace)"
        )
    own = [root / "engagements" / client, root / "evidence" / client, root / "sites" / client]
    existing = [p for p in own if p.exists()]
    if existing and not force:
        quarters = sorted(
            p.name for p in (root / "evidence" / client).glob("*") if QUARTER_RE.match(p.name)
        )
        held = f" (published quarters: {', '.join(quarters)})" if quarters else ""
        raise ConfigError(
            f"{root} already holds the demo's evidence for {client!r}{held}; published quarters "
            "are immutable: use --force to wipe and rebuild the demo, or another --workspace"
        )
    for p in existing:
        shutil.rmtree(p)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(
        "Made by 'posture demo'. 'posture demo --force' may wipe this client's folders here.\n"
    )


def demo_secret_token() -> str:
    """A fresh dev-server root token per run, so no fixed token is ever worth finding."""
    return "demo-root-" + secrets.token_hex(12)


# --- what changed between the two quarters --------------------------------------------


def _load_json(path: Path) -> Any:
    import orjson

    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise PostureError(f"{path}: missing (the assessment did not write it)") from None


def findings_diff(prev_dir: Path, curr_dir: Path) -> dict[str, Any]:
    """What ``posture diff`` shows (`checks.diff`), worst first, plus both overall scores."""
    from checks.diff import diff_dirs

    d: dict[str, Any] = dict(diff_dirs(prev_dir, curr_dir))
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    for rows in d.values():
        rows.sort(key=lambda r: (order.get(r.get("severity") or "", 9), r["check_id"], r["resource"]))

    def score(adir: Path) -> dict[str, Any]:
        s = _load_json(adir / "scores.json").get("overall") or {}
        return {"score": s.get("score"), "grade": s.get("grade")}

    d["score_before"], d["score_after"] = score(prev_dir), score(curr_dir)
    return d


# --- the closing summary ---------------------------------------------------------------


def print_summary(result: DemoResult, console: Console, rows: int = 10) -> None:
    """What changed, where the site is, how to look at it, and how long it all took.

    Resource ids come from the estate: they are printed as plain text (no rich
    markup or emoji codes: an ARN's ``:secret:`` must not become an emoji).
    """
    from rich.table import Table
    from rich.text import Text

    def plain(text: str) -> None:
        console.print(text, markup=False, emoji=False, highlight=False)

    prev, curr = result.quarters
    d = result.diff
    b, a = d["score_before"], d["score_after"]
    console.rule(f"{DEMO_CLIENT_NAME} ({result.client}): {prev} -> {curr}")
    plain(
        f"overall score {b['score']} ({b['grade']}) -> {a['score']} ({a['grade']}); "
        f"{len(d['resolved'])} resolved, {len(d['new'])} new, "
        f"{len(d['still_open'])} still open, {len(d['changed'])} changed status"
    )
    for label, found, style in (("resolved", d["resolved"], "green"), ("new", d["new"], "red")):
        if not found:
            continue
        t = Table(title=Text(f"{label} since {prev} ({len(found)})", style=style), title_justify="left")
        for c in ("check", "severity", "env", "resource"):
            t.add_column(c, overflow="fold")
        for r in found[:rows]:
            t.add_row(*(Text(str(v or "")) for v in (
                r["check_id"], r.get("severity"), r.get("environment"), r["resource"])))
        if len(found) > rows:
            t.caption = f"... and {len(found) - rows} more: posture diff {result.client} {prev} {curr}"
        console.print(t)
    ws = result.workspace
    console.print()
    plain(f"workspace:  {ws}")
    plain(f"site:       {result.site_dir} (git branch gh-pages, one mike version per quarter)")
    plain("browse it over HTTP (search and the version selector do not work from file://):")
    plain(f"  cd {ws} && posture serve {result.client}")
    plain(f"  cd {ws} && posture export-site {result.client} ./{result.client}-site")
    plain(f"what changed:  cd {ws} && posture diff {result.client} {prev} {curr}")
    plain(f"demo finished in {result.wall_seconds:.0f}s; per phase: "
          + ", ".join(f"{n} {s:.1f}s" for n, s in result.phases))


# --- the run -----------------------------------------------------------------------------


class DemoInterrupted(PostureError):
    """Ctrl-C or SIGTERM during the demo: servers stopped, workspace possibly partial."""

    exit_code = 130


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so the servers are stopped on ``kill`` too."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@dataclass
class DemoEstate:
    """The running servers and the throw-away folder that holds the estate."""

    dir: Path
    bao: Any
    moto: Any
    root_token: str
    repos: dict[str, Path] = field(default_factory=dict)
    audit_logs: list[str] = field(default_factory=list)
    cloudtrail_logs: list[str] = field(default_factory=list)
    secret_values: tuple[str, ...] = ()
    handles: dict[str, Any] = field(default_factory=dict)


def run_demo(
    workspace: Path,
    *,
    quarter: str | None = None,
    client: str = DEMO_CLIENT,
    force: bool = False,
    keep_servers: bool = False,
    console: Console | None = None,
    on_result: Callable[[DemoResult], None] | None = None,
    wait_for_interrupt: Callable[[], None] | None = None,
) -> DemoResult:
    """Run the demo into ``workspace``; see the module docstring. Raises `PostureError`."""
    console = console or Console(stderr=True)
    current = parse_quarter(quarter) if quarter else current_quarter()
    previous = previous_quarter(current)
    root = workspace.expanduser().resolve()
    prepare_workspace(root, client, force)
    timer = PhaseTimer(console, total=11)
    phase_name = "start"
    secrets_seen: list[str] = list(DEMO_VALUES)
    try:
        with ExitStack() as stack:
            stack.enter_context(_sigterm_as_interrupt())
            estate_dir = Path(tempfile.mkdtemp(prefix="posture-demo-estate-"))
            stack.callback(shutil.rmtree, estate_dir, True)
            phase_name = "servers"
            with timer.phase("start OpenBao and moto on 127.0.0.1", "servers"):
                estate = _start_servers(stack, estate_dir)
            secrets_seen.append(estate.root_token)
            stack.enter_context(scoped_environ(_collector_env(estate), ("VAULT_", "AWS_")))
            phase_name = "seed"
            with timer.phase(f"seed the {DEMO_CLIENT_NAME} estate (OpenBao, AWS, git, CI)", "seed"):
                _seed(estate, console)
            for q in (previous, current):
                if q == current:
                    phase_name = "fix"
                    with timer.phase("fix some findings (rotate, delete, revoke, tighten)", "fix"):
                        _apply_fixes(estate, console)
                phase_name = f"{q} traffic"
                with timer.phase(f"{q}: generate audit traffic", f"{q} traffic"):
                    _traffic(estate, q, q == previous, console)
                ws = write_engagement(root, client, estate, previous, current, q == previous)
                phase_name = f"{q} collect"
                with timer.phase(f"{q}: collect (read-only)", f"{q} collect"):
                    _collect(ws, q, console)
                phase_name = f"{q} assess"
                with timer.phase(f"{q}: assess (checks + notebooks)", f"{q} assess"):
                    _assess(ws, q, console)
                phase_name = f"{q} publish"
                with timer.phase(f"{q}: publish the site version", f"{q} publish"):
                    _publish(ws, q, console)
            phase_name = "diff"
            diff = findings_diff(ws.assessment_dir(previous), ws.assessment_dir(current))
            result = DemoResult(
                workspace=root,
                client=client,
                quarters=(previous, current),
                site_dir=ws.site_dir,
                diff=diff,
                phases=timer.phases,
                wall_seconds=timer.elapsed,
                secret_values=estate.secret_values + (estate.root_token,),
                vault_address=estate.bao.address,
                aws_endpoint=estate.moto.endpoint_url,
                bao_pid=estate.bao._proc.pid if estate.bao._proc else None,
                estate_dir=estate.dir,
            )
            if on_result is not None:
                on_result(result)
            if keep_servers:
                _hold_servers(estate, console, wait_for_interrupt)
            phase_name = "stop"
        return result
    except KeyboardInterrupt:
        raise DemoInterrupted(
            f"demo interrupted during {phase_name}: servers stopped; "
            f"re-run with --force to rebuild {root}"
        ) from None
    except PostureError:
        raise
    except Exception as e:
        if os.environ.get("POSTURE_DEBUG"):
            raise
        msg = " ".join(str(e).split())
        for value in secrets_seen:  # an error message must not carry a secret either
            msg = msg.replace(value, "***")
        raise PostureError(
            f"demo failed during {phase_name}: {type(e).__name__}: {msg[:300]} (servers stopped; "
            "re-run with --force to rebuild; POSTURE_DEBUG=1 shows the traceback)"
        ) from None


def _start_servers(stack: ExitStack, estate_dir: Path) -> DemoEstate:
    """Start both servers; each is stopped by ``stack`` whatever happens next."""
    import logging

    from posture.demo.devservers import MotoServer, OpenBaoDevServer

    quiet = logging.getLogger("werkzeug")  # moto's server logs every request otherwise
    stack.callback(quiet.setLevel, quiet.level)
    quiet.setLevel(logging.ERROR)
    token = demo_secret_token()
    bao = OpenBaoDevServer(
        root_token=token, audit_devices=("file", "file2"), workdir=estate_dir / "openbao"
    )
    stack.callback(bao.stop)  # registered first: a failed start still stops the process
    bao.start()
    moto = MotoServer()
    stack.callback(moto.stop)
    moto.start()
    return DemoEstate(dir=estate_dir, bao=bao, moto=moto, root_token=token)


def _collector_env(estate: DemoEstate) -> dict[str, str]:
    """The environment the collectors (and boto3/hvac) see during the run.

    The user's own AWS profile and Vault settings are dropped so the demo can
    never reach a real account; the config files point at nothing.
    """
    empty = estate.dir / "aws-empty-config"
    empty.write_text("")
    return {
        "VAULT_ADDR": estate.bao.address,
        "VAULT_TOKEN": estate.root_token,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": estate.moto.endpoint_url,
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _hold_servers(
    estate: DemoEstate, console: Console, wait: Callable[[], None] | None
) -> None:
    """--keep-servers: print how to reach the servers and wait for Ctrl-C."""
    console.print("[bold]servers kept up until Ctrl-C:[/]")
    console.print(f"  export VAULT_ADDR={estate.bao.address}", highlight=False)
    console.print(f"  export VAULT_TOKEN={estate.root_token}   # throw-away dev root token", highlight=False)
    console.print(f"  export AWS_ENDPOINT_URL={estate.moto.endpoint_url}", highlight=False)
    console.print("  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing", highlight=False)
    try:
        if wait is not None:
            wait()
        else:
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping the servers")


# --- seeding and the engagement file -----------------------------------------------------


def run_steps(console: Console, title: str, steps: list[tuple[str, Callable[[], Any]]]) -> None:
    """Run ``steps`` in order under one progress bar (one tick per step)."""
    from posture.progress import progress_bar

    with progress_bar(console, f"    {title}", transient=True) as progress:
        task = progress.add_task("", total=len(steps))
        for label, fn in steps:
            progress.update(task, description=label)
            fn()
            progress.advance(task)


def _seed(estate: DemoEstate, console: Console) -> None:
    """Seed every source through its estate module (the same ones the tests use)."""
    from posture.demo.estates import aws as aws_estate
    from posture.demo.estates import git as git_estate
    from posture.demo.estates import vault as vault_estate

    def vault() -> None:
        estate.handles["vault"] = vault_estate.seed_vault_estate(
            estate.bao.address, estate.root_token, DEMO_VALUES
        )

    def aws() -> None:
        estate.handles["aws"] = aws_estate.seed(estate.moto.endpoint_url, DEMO_VALUES)

    def git() -> None:
        repos = git_estate.seed_git_estate(estate.dir / "repos", DEMO_VALUES)
        estate.handles["git"] = repos
        estate.repos = {"payments-api": repos.payments, "ledger-service": repos.ledger}
        estate.secret_values = tuple(dict.fromkeys(estate.secret_values + repos.all_values))

    estate.secret_values = DEMO_VALUES
    run_steps(console, "seeding", [
        ("OpenBao: engines, policies, auth, tokens, PKI", vault),
        ("AWS: Secrets Manager, KMS, IAM, SSM, ACM, CloudTrail", aws),
        ("git: payments-api and ledger-service", git),
    ])
    logs = estate.dir / "logs"
    estate.audit_logs = [str(logs / "openbao" / "*.log")]
    estate.cloudtrail_logs = [str(logs / "cloudtrail")]
    a = estate.handles["aws"]
    console.print(
        f"    OpenBao {estate.bao.address}: KV v1/v2, transit, PKI, database, 4 auth methods; "
        f"moto {estate.moto.endpoint_url}: {len(a.secrets)} secrets, {len(a.keys)} KMS keys, "
        f"{len(a.users)} IAM users in {len(a.regions)} regions; "
        f"{len(estate.repos)} git repositories",
        highlight=False,
    )


WIKI = "https://wiki.northwind-payments.example/security"


def _waivers(previous: str, current: str) -> list[dict[str, Any]]:
    """One active waiver and one that expired before either quarter: it fails again."""
    return [
        {
            "check": "VLT016",
            "resource": "*legacy*",
            "reason": "KV v1 'legacy/' is read-only and retires with the ledger migration",
            "approver": "cto@northwind-payments.example",
            "expires": quarter_end(current) + timedelta(days=120),
        },
        {
            "check": "AWS016",
            "resource": "*webhook-token*",
            "reason": "Webhook token was to move to Secrets Manager last quarter",
            "approver": "ciso@northwind-payments.example",
            "expires": quarter_end(previous) - timedelta(days=60),
        },
    ]


def _attestations(previous: str, current: str, first: bool) -> list[dict[str, Any]]:
    """Manual evidence: some present, several missing; the second quarter adds a few.

    Missing on purpose (their checks stay not_assessed): revocation_runbook,
    break_glass, rotation_drill, store_outage_plan, log_redaction, dev_credentials.
    """
    then = quarter_end(previous) - timedelta(days=40)
    out: list[dict[str, Any]] = [
        {"item": "rotation_runbook", "evidence": f"{WIKI}/rotation-runbook", "owner": "payments-team", "date": then},
        {"item": "leak_playbook", "evidence": f"{WIKI}/leak-playbook", "owner": "security-team", "date": then},
        {"item": "audit_retention", "evidence": f"{WIKI}/siem-retention", "owner": "platform-team", "date": then},
        {"item": "time_to_revoke", "evidence": f"{WIKI}/game-day-q2", "owner": "security-team", "date": then,
         "value": 42.0},
    ]
    if not first:
        now = min(datetime.now(UTC).date(), quarter_end(current)) - timedelta(days=7)
        out[-1] = {"item": "time_to_revoke", "evidence": f"{WIKI}/game-day-{current.lower()}",
                   "owner": "security-team", "date": now, "value": 11.0}
        out += [
            {"item": "access_review", "evidence": f"{WIKI}/access-review-{current.lower()}",
             "owner": "platform-team", "date": now},
            {"item": "anomaly_alerting", "evidence": f"{WIKI}/siem-alerts", "owner": "security-team",
             "date": now},
        ]
    return out


def engagement_document(
    client: str, estate: DemoEstate, previous: str, current: str, first: bool
) -> dict[str, Any]:
    """The demo's engagement, as data: stores, classification, owners, waivers, attestations.

    Rewritten before each quarter's collection, as a consultant would: the
    second quarter brings new attestations (a faster game day, an access review).
    """
    owners = [
        {"owner": "payments-team", "pager": "pagerduty:payments-oncall", "match": ["*payments*", "*stripe*", "*card*"]},
        {"owner": "orders-team", "pager": "pagerduty:orders-oncall", "match": ["*orders*"]},
        {"owner": "web-team", "pager": "#web-oncall", "match": ["*web*"]},
        {"owner": "platform-team", "pager": "pagerduty:platform-oncall",
         "match": ["*platform*", "*shared*", "*signing*", "*tls*", "transit*", "pki*", "*eu*"]},
    ]
    doc: dict[str, Any] = {
        "client": client,
        "description": f"{DEMO_CLIENT_NAME}: quarterly secrets-posture review (posture demo)",
        "stores": {
            "vault": [{
                "name": VAULT_STORE,
                "address": estate.bao.address,
                "auth": {"method": "token", "token_env": "VAULT_TOKEN"},
                "concurrency": 8,
                "audit_logs": estate.audit_logs,
            }],
            "aws": [{
                "name": AWS_STORE,
                "regions": ["us-east-1", "eu-west-1"],
                "endpoint_url": estate.moto.endpoint_url,
                "concurrency": 8,
                **({"cloudtrail_logs": estate.cloudtrail_logs} if estate.cloudtrail_logs else {}),
            }],
            "git": [{"name": name, "url": str(path)} for name, path in estate.repos.items()],
        },
        "classification": {
            "environments": [
                {"environment": "prod", "match": ["*prod*", "*production*"]},
                {"environment": "staging", "match": ["*staging*", "*stage*"]},
                {"environment": "dev", "match": ["*dev*", "*sandbox*"]},
            ],
            "secret_types": [
                {"type": "db-password", "match": ["*db-password*", "*database*", "*smtp-password*"]},
                {"type": "api-key", "match": ["*api-key*", "*api-token*", "*stripe*"]},
                {"type": "signing-key", "match": ["*signing*", "*session-key*"]},
                {"type": "token", "match": ["*token*"]},
            ],
            "owners": owners,
            "classes": [
                {"class": "regulated", "match": ["*payments*", "*card*", "*stripe*"]},
                {"class": "confidential", "match": ["*prod*"]},
                {"class": "internal", "match": ["*staging*", "*dev*"]},
            ],
        },
        "waivers": _waivers(previous, current),
        "attestations": _attestations(previous, current, first),
        "business_timezone": "Europe/London",
    }
    return doc


ENGAGEMENT_HEADER = """\
# Engagement written by 'posture demo' for the fictional client {name}.
# The stores below were throw-away loopback servers and a temporary git
# repository; they are gone once the demo ends. Credentials were passed in the
# environment (VAULT_TOKEN, AWS_*) and are not in this file.
"""


def write_engagement(
    root: Path, client: str, estate: DemoEstate, previous: str, current: str, first: bool
) -> Workspace:
    """Write ``engagements/CLIENT/engagement.yaml`` (validated first) and return the workspace."""
    import io

    from ruamel.yaml import YAML

    from posture.model.engagement import parse_engagement
    from posture.model.fsutil import atomic_write_text

    doc = engagement_document(client, estate, previous, current, first)
    buf = io.StringIO()
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 120
    yaml.representer.ignore_aliases = lambda *_: True  # no &id001 anchors for shared dates
    yaml.dump(doc, buf)
    text = ENGAGEMENT_HEADER.format(name=DEMO_CLIENT_NAME) + buf.getvalue()
    path = root / "engagements" / client / "engagement.yaml"
    parse_engagement(text, path)
    atomic_write_text(path, text)
    gitignore = path.parent / ".gitignore"
    if not gitignore.exists():
        atomic_write_text(gitignore, ".fingerprint-key\n")
    return Workspace(root=root, client=client, engagement_path=path)


# --- the pipeline steps ----------------------------------------------------------------------


def _collect(ws: Workspace, quarter: str, console: Console) -> None:
    from posture.collect import collect

    result = collect(ws, quarter, console=console, options={"progress": console.is_terminal})
    counts = result.sink.counts()
    total = sum(n for t, n in counts.items() if t != "coverage_gap")
    gaps = len(result.sink.gaps())
    console.print(
        f"    {total} records in {len(counts)} tables, {gaps} coverage gap(s) -> "
        f"{result.path.relative_to(ws.root)}",
        highlight=False, markup=False, emoji=False,
    )


# --- what the client fixed between the two quarters ---------------------------------------

#: (source, what was done) for the summary and the docs; each is done for real below.
FIXES: tuple[tuple[str, str], ...] = (
    ("vault", "revoked the long-TTL admin token 'legacy-batch-job'"),
    ("vault", "removed the wildcard policy 'admin-wildcard' (path \"*\")"),
    ("vault", "tightened AppRole 'ci-legacy' to 1 h tokens and single-use 10-minute secret-ids"),
    ("vault", "deleted the unowned secret 'secret/prod/orphaned/legacy-batch-token'"),
    ("vault", "set database role 'payments-admin' to 1 h / 24 h credentials"),
    ("aws", "enabled automatic rotation on KMS key alias/legacy-data"),
    ("aws", "removed the public resource policy of 'prod/legacy/ftp-password'"),
    ("aws", "rotated the overdue 'staging/orders/db-password'"),
    ("aws", "deleted the 400-day-old access key of IAM user 'ci-deployer'"),
    ("aws", "deleted the OIDC role 'github-any-repo' (no subject condition)"),
    ("git", ("payments-api: removed the static-key CI workflows, the plain k8s Secret, "
             "the committed deploy key and .pgpass, and the token baked into the Dockerfile")),
)


def _vault_call(estate: DemoEstate, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    import requests

    r = requests.request(
        method,
        f"{estate.bao.address}/v1/{path}",
        json=body,
        headers={"X-Vault-Token": estate.root_token},
        timeout=30,
    )
    if r.status_code not in (200, 204):
        raise PostureError(f"demo fix: {method} {path} -> HTTP {r.status_code}")
    return r.json() if r.content else None


def _fix_vault(estate: DemoEstate) -> None:
    seeded = estate.handles["vault"]
    accessor = getattr(seeded, "long_ttl_token_accessor", "")
    if accessor:
        _vault_call(estate, "POST", "auth/token/revoke-accessor", {"accessor": accessor})
    _vault_call(estate, "DELETE", "sys/policies/acl/admin-wildcard")
    _vault_call(estate, "POST", "auth/approle/role/ci-legacy", {
        "token_policies": ["ci-deployer"], "token_ttl": "1h", "token_max_ttl": "4h",
        "secret_id_ttl": "10m", "secret_id_num_uses": 1,
    })
    _vault_call(estate, "DELETE", "secret/metadata/prod/orphaned/legacy-batch-token")
    _vault_call(estate, "POST", "database/roles/payments-admin", {
        "db_name": "payments-pg", "creation_statements": ["SELECT 1"],
        "default_ttl": "1h", "max_ttl": "24h",
    })


def _fix_aws(estate: DemoEstate) -> None:
    import boto3

    seeded = estate.handles["aws"]
    url = estate.moto.endpoint_url
    region = seeded.regions[0]
    kms = boto3.client("kms", region_name=region, endpoint_url=url)
    kms.enable_key_rotation(KeyId=seeded.keys["legacy-data"]["arn"], RotationPeriodInDays=365)
    sm = boto3.client("secretsmanager", region_name=region, endpoint_url=url)
    sm.delete_resource_policy(SecretId=seeded.secrets["prod/legacy/ftp-password"]["arn"])
    staging = seeded.secrets["staging/orders/db-password"]["arn"]
    sm.put_secret_value(SecretId=staging, SecretString=DEMO_VALUES[1])
    sm.rotate_secret(SecretId=staging, RotateImmediately=True)
    iam = boto3.client("iam", region_name=region, endpoint_url=url)
    for key in seeded.users["ci-deployer"]["keys"]:
        iam.delete_access_key(UserName="ci-deployer", AccessKeyId=key["id"])
    for name in iam.list_role_policies(RoleName="github-any-repo")["PolicyNames"]:
        iam.delete_role_policy(RoleName="github-any-repo", PolicyName=name)
    iam.delete_role(RoleName="github-any-repo")


GIT_FIX_REMOVED = (
    ".github/workflows/deploy-legacy.yml",
    ".github/workflows/azure-legacy.yml",
    "k8s/secret.yaml",
    "deploy/id_rsa",
    "deploy/.pgpass",
)


def _fix_git(estate: DemoEstate) -> None:
    """One clean-up commit on payments-api's main. History keeps the old leaks, as in life."""
    import subprocess

    repo = estate.repos["payments-api"]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(estate.dir),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Dana Okafor",
        "GIT_AUTHOR_EMAIL": "dana@northwind-payments.example",
        "GIT_COMMITTER_NAME": "Dana Okafor",
        "GIT_COMMITTER_EMAIL": "dana@northwind-payments.example",
    }

    def git(*args: str) -> None:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, env=env, check=False)
        if proc.returncode != 0:
            raise PostureError(f"demo fix: git {args[0]} failed: {proc.stderr.decode(errors='replace')[-200:]}")

    git("rm", "-q", "--ignore-unmatch", *GIT_FIX_REMOVED)
    dockerfile = repo / "Dockerfile"
    if dockerfile.exists():
        lines = dockerfile.read_text().splitlines(keepends=True)
        dockerfile.write_text("".join(ln for ln in lines if "_TOKEN=" not in ln or "ARG" in ln))
        git("add", "Dockerfile")
    git("commit", "-q", "-m", "Remove static credentials from CI, k8s and the image")


def _apply_fixes(estate: DemoEstate, console: Console) -> None:
    """Do what a client does between two reviews: rotate, delete, revoke, tighten."""
    run_steps(console, "fixing", [
        ("OpenBao", lambda: _fix_vault(estate)),
        ("AWS", lambda: _fix_aws(estate)),
        ("git", lambda: _fix_git(estate)),
    ])
    for source, what in FIXES:
        console.print(f"    [green]fixed[/] {source}: {what}", highlight=False)


# --- audit traffic, one log slice per quarter ------------------------------------------------


def _quiet_quarter_traffic(estate: DemoEstate) -> None:
    """After the clean-up: services read with short, scoped tokens; nothing anomalous."""
    tok = _vault_call(estate, "POST", "auth/token/create", {
        "policies": ["payments-prod-read"], "ttl": "1h", "display_name": "payments-api",
    })["auth"]["client_token"]
    import requests

    with requests.Session() as s:
        s.headers["X-Vault-Token"] = tok
        for _ in range(4):
            for path in ("prod/payments/db-password", "prod/payments/stripe-api-key"):
                r = s.get(f"{estate.bao.address}/v1/secret/data/{path}", timeout=10)
                if r.status_code != 200:
                    raise PostureError(f"demo traffic: GET secret/data/{path} -> HTTP {r.status_code}")
        s.post(f"{estate.bao.address}/v1/auth/token/revoke-self", timeout=10)


def _traffic(estate: DemoEstate, quarter: str, first: bool, console: Console) -> None:
    """Real OpenBao traffic and the quarter's CloudTrail files, cut into this quarter's logs.

    The audit device writes one growing file; like a rotated production log,
    each quarter's assessment reads only what was written since the last one.
    CloudTrail files cover the three weeks before the quarter's end (or now).
    """
    from posture.demo.estates import audit as audit_estate
    from posture.workspace import quarter_end

    def openbao() -> None:
        if first:
            estate.handles["traffic"] = audit_estate.drive_openbao_traffic(
                estate.bao.address, estate.root_token, DEMO_VALUES, prefix="ops"
            )
        else:
            _quiet_quarter_traffic(estate)

    def cut_log() -> None:
        live = estate.bao.audit_log("file")
        start = estate.handles.get("audit_offset", 0)
        dest = estate.dir / "logs" / "openbao" / "openbao-audit.log"
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(live, "rb") as src, open(dest, "wb") as out:
            src.seek(start)
            shutil.copyfileobj(src, out)
            estate.handles["audit_offset"] = src.tell()

    def cloudtrail() -> None:
        folder = estate.dir / "logs" / "cloudtrail"
        shutil.rmtree(folder, ignore_errors=True)
        now = datetime.now(UTC)
        end = min(now, datetime.combine(quarter_end(quarter), datetime.min.time(), UTC))
        records = audit_estate.cloudtrail_records(
            DEMO_VALUES, start=end - timedelta(days=21), days=21, anomalies=first
        )
        audit_estate.write_cloudtrail(folder, records)

    run_steps(console, "traffic", [
        ("OpenBao: reads, denials, logins, tokens" if first else "OpenBao: scoped service reads", openbao),
        ("cut this quarter's audit log", cut_log),
        ("CloudTrail files", cloudtrail),
    ])


def _publish(ws: Workspace, quarter: str, console: Console) -> None:
    from posture.site import publish

    result = publish(ws, quarter, force=False, console=console)
    console.print(
        f"    version {quarter}: {result.files} pages, manifest sha256 {result.manifest_sha256[:16]}…",
        highlight=False,
    )


def _assess(ws: Workspace, quarter: str, console: Console) -> None:
    """What ``posture assess`` does: checks, the assessment files, then the notebooks."""
    from checks.engine import run_assessment
    from checks.export import write_assessment
    from checks.scoring import score
    from posture import notebooks
    from posture.model.snapshot import Snapshot

    t0 = time.perf_counter()
    snap = Snapshot.load(ws.snapshot_dir(quarter))
    a = run_assessment(snap, ws.load().engagement, snap.manifest.finished_at)
    if a.errors:  # a check that raised is a bug: the demo must not hide it
        raise PostureError(f"{len(a.errors)} check(s) raised errors, first: {a.errors[0]}")
    write_assessment(a, snap, ws.assessment_dir(quarter), client=ws.client, quarter=quarter)
    overall = score(a.findings, a.thresholds)["overall"]
    counts = ", ".join(f"{k} {v}" for k, v in a.counts().items())
    t1 = time.perf_counter()
    console.print(
        f"    grade {overall['grade']}, score {overall['score']:.1f} ({counts}); "
        f"checks + exports {t1 - t0:.1f}s",
        highlight=False,
    )
    executed = notebooks.run_all(ws, quarter, console)
    console.print(
        f"    {len(executed)} notebooks executed in {time.perf_counter() - t1:.1f}s", highlight=False
    )
