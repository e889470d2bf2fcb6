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
they are never written to a file. The dev server's root token is the client's
admin: it seeds and fixes the estate and applies the assessor policy of
``posture policy vault``; the collectors only ever see the token bound to that
policy (`posture.demo.assessor`), as at a real client.

The package is the orchestration (`run_demo` and its steps); the pieces are
`client` (names, canary values), `engagement` (the engagement file),
`traffic` (audit traffic and log slices), `assessor` (the assessor's token),
`fixes` (what the client fixes between quarters), `summary` (the closing
summary) and `progress` (phases and steps). Seed data lives in `estates`,
the servers in `devservers`.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from posture.demo.client import DEMO_CLIENT, DEMO_CLIENT_NAME, DEMO_VALUES
from posture.demo.engagement import write_engagement
from posture.demo.fixes import apply_fixes
from posture.demo.live_estate import DemoEstate
from posture.demo.progress import PhaseTimer, run_steps
from posture.demo.summary import findings_diff, print_summary
from posture.demo.traffic import generate_traffic
from posture.model.errors import ConfigError, PostureError
from posture.workspace import QUARTER_RE, Workspace, current_quarter, parse_quarter

__all__ = [
    "DEMO_CLIENT", "DEMO_VALUES", "MARKER", "DemoInterrupted", "DemoResult", "prepare_workspace",
    "previous_quarter", "print_summary", "run_demo", "scoped_environ",
]

MARKER = ".posture-demo"


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
class DemoResult:
    """What one run produced, for the closing summary and the tests."""

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
    estate: DemoEstate | None = None
    try:
        with ExitStack() as stack:
            stack.enter_context(_sigterm_as_interrupt())
            estate_dir = Path(tempfile.mkdtemp(prefix="posture-demo-estate-"))
            stack.callback(shutil.rmtree, estate_dir, True)
            phase_name = "servers"
            with timer.phase("start OpenBao and moto on 127.0.0.1", "servers"):
                estate = _start_servers(stack, estate_dir)
            stack.enter_context(scoped_environ(_collector_env(estate), ("VAULT_", "AWS_")))
            phase_name = "seed"
            with timer.phase(f"seed the {DEMO_CLIENT_NAME} estate (OpenBao, AWS, git, CI)", "seed"):
                _seed(estate, console)
            for q in (previous, current):
                if q == current:
                    phase_name = "fix"
                    with timer.phase("fix some findings (rotate, delete, revoke, tighten)", "fix"):
                        apply_fixes(estate, console)
                phase_name = f"{q} traffic"
                with timer.phase(f"{q}: generate audit traffic", f"{q} traffic"):
                    generate_traffic(estate, q, q == previous, console)
                ws = write_engagement(root, client, estate, previous, current, q == previous)
                phase_name = f"{q} collect"
                with timer.phase(f"{q}: collect (read-only, the assessor's token)", f"{q} collect"):
                    _collect(ws, q, estate, console)
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
                secret_values=estate.known_secrets(),
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
        known = DEMO_VALUES + (estate.known_secrets() if estate else ())
        for value in known:  # an error message must not carry a secret either
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
    """The environment the collectors (and boto3) see during the run.

    The user's own AWS profile and Vault settings are dropped so the demo can
    never reach a real account; the config files point at nothing. No Vault
    token: `_collect` hands the collectors the assessor's, never the root token.
    """
    empty = estate.dir / "aws-empty-config"
    empty.write_text("")
    return {
        "VAULT_ADDR": estate.bao.address,
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


# --- the pipeline steps ----------------------------------------------------------------------


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



def _collect(ws: Workspace, quarter: str, estate: DemoEstate, console: Console) -> None:
    """``posture collect`` with the assessor's token: the root token never collects."""
    from posture.collect import collect

    with scoped_environ({"VAULT_TOKEN": estate.assessor_token}):
        result = collect(ws, quarter, console=console, options={"progress": console.is_terminal})
    counts = result.sink.counts()
    total = sum(n for t, n in counts.items() if t != "coverage_gap")
    gaps = len(result.sink.gaps())
    console.print(
        f"    {total} records in {len(counts)} tables, {gaps} coverage gap(s) -> "
        f"{result.path.relative_to(ws.root)}",
        highlight=False, markup=False, emoji=False,
    )


def _assess(ws: Workspace, quarter: str, console: Console) -> None:
    """``posture assess`` (the same use case); a check that raises stops the demo."""
    from posture.assess import AssessOutcome, assess

    def written(outcome: AssessOutcome) -> None:
        overall = outcome.scores["overall"]
        counts = ", ".join(f"{k} {v}" for k, v in outcome.assessment.counts().items())
        console.print(
            f"    grade {overall['grade']}, score {overall['score']:.1f} ({counts}); "
            f"checks + exports {outcome.checks_seconds:.1f}s",
            highlight=False,
        )

    outcome = assess(ws, quarter, strict=True, console=console, on_written=written)
    console.print(
        f"    {len(outcome.notebooks)} notebooks executed in {outcome.notebooks_seconds:.1f}s",
        highlight=False,
    )


def _publish(ws: Workspace, quarter: str, console: Console) -> None:
    from posture.site import publish

    result = publish(ws, quarter, force=False, console=console)
    console.print(
        f"    version {quarter}: {result.files} pages, manifest sha256 {result.manifest_sha256[:16]}…",
        highlight=False,
    )
