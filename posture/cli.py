"""The ``posture`` command.

Every error the user can fix is one line on stderr and a non-zero exit code
(2 for bad input, 3 for an unassessable store, 4 for a read-only violation,
5 for an integrity failure). Tracebacks are for bugs only.
"""

from __future__ import annotations

import errno
import json
import re
import sys
from datetime import datetime
from importlib import resources
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from posture.model.errors import ConfigError, PostureError

try:  # typer >= 0.20 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException
from typer import Abort, Exit

from posture.workspace import Workspace, current_quarter, home, parse_quarter

app = typer.Typer(
    name="posture",
    help=(
        "Secrets Posture Kit: read-only collection of secrets metadata from Vault/OpenBao, "
        "AWS, Azure Key Vault, GCP Secret Manager, Kubernetes, git, CI and declared inventories; "
        "scoring against the review checklist; rotation plans and least-privilege policies; "
        "a versioned evidence site.\n\n"
        "Typical quarter: posture init acme → posture collect acme → posture assess acme "
        "→ posture publish acme."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Estate values (ARNs, paths, names) are printed as text: no emoji codes, no markup.
out = Console(emoji=False)
err = Console(stderr=True, emoji=False)
#: Width of a table written to a pipe or file, where no terminal sets one: ids and paths stay whole.
PIPED_WIDTH = 200


def print_table(table: Table) -> None:
    """Print ``table`` to stdout: terminal width on a terminal, `PIPED_WIDTH` when piped."""
    if out.is_terminal:
        out.print(table)
    else:
        Console(emoji=False, width=max(out.width, PIPED_WIDTH)).print(table)


# C0/C1 controls (ESC starts ANSI/OSC sequences, CSI is U+009B), DEL, and the bidi
# overrides and isolates that reorder what a terminal shows (Trojan Source).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(value: object) -> str:
    """``value`` as one line of inert text: every control character shown as an escape (``\\x1b``).

    Names, paths and messages come from the client's estate (a git file name,
    a Vault path): printed raw, an escape sequence would recolour, retitle or
    rewrite the operator's terminal, or hide a line of the report.
    """
    text = "" if value is None else str(value)
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                            else f"\\u{ord(m.group()):04x}", text)


def cells(*values: object) -> list[Text]:
    """Table cells that render client-controlled values literally (no markup, no control characters)."""
    return [Text(printable(v)) for v in values]


ClientArg = Annotated[
    str, typer.Argument(help="Client name (engagements/CLIENT/engagement.yaml) or path to an engagement file.")
]
QuarterOpt = Annotated[
    Optional[str],
    typer.Option("--quarter", "-q", help="Quarter as YYYY-QN. Default: the current quarter."),
]


def quarter_or_current(q: str | None) -> str:
    return parse_quarter(q) if q else current_quarter()


@app.command()
def init(
    client: Annotated[str, typer.Argument(help="Client name, e.g. acme.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing engagement file.")] = False,
) -> None:
    """Create engagements/CLIENT/engagement.yaml from a commented template."""
    from posture.model.engagement import check_client_name, parse_engagement
    from posture.model.fsutil import atomic_write_text

    path = home() / "engagements" / check_client_name(client) / "engagement.yaml"
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists (use --force to overwrite)")
    text = resources.files("posture").joinpath("templates/engagement.yaml").read_text()
    text = text.format(client=client)
    parse_engagement(text, path)  # the template must always validate
    atomic_write_text(path, text)
    gitignore = path.parent / ".gitignore"
    if not gitignore.exists():
        atomic_write_text(gitignore, ".fingerprint-key\n")
    out.print(f"created {path}", markup=False)
    out.print("next: add stores, then 'posture policy vault|aws|azure|gcp|kubernetes' for the assessor's access")


@app.command()
def schema(
    engagement: Annotated[bool, typer.Option(help="Print the engagement file's schema instead.")] = False,
    assessment: Annotated[bool, typer.Option(help="Print the assessment files' schema instead.")] = False,
) -> None:
    """Print the JSON Schema of the snapshot records (or of the engagement or assessment files)."""
    from posture.model.assessment import contract_schema
    from posture.model.engagement import Engagement
    from posture.model.records import ALL_RECORDS

    if engagement:
        doc = Engagement.model_json_schema()
    elif assessment:
        doc = contract_schema()
    else:
        doc = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Secrets Posture Kit snapshot",
            "description": "One JSON Lines file per table; each line one record.",
            "tables": {r.table: r.model_json_schema() for r in ALL_RECORDS},
        }
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")


@app.command()
def collect(
    client: ClientArg,
    quarter: QuarterOpt = None,
    store: Annotated[
        Optional[list[str]], typer.Option("--store", "-s", help="Only this store (repeatable).")
    ] = None,
    as_of: Annotated[
        Optional[datetime], typer.Option(
            "--as-of", formats=["%Y-%m-%d"],
            help="The day of QUARTER this collection stands for (YYYY-MM-DD); needed to collect "
                 "a quarter that has not started yet."),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Replace the quarter's existing snapshot (its assessment must then be re-run).")
    ] = False,
) -> None:
    """Read every store of the engagement, read-only, into an atomic snapshot.

    Denied or failed reads become coverage gaps and are listed at the end; a
    store that cannot be assessed at all (sealed, unreachable, bad credentials)
    stops the run with nothing written. An existing snapshot of the quarter is
    kept unless --force; a quarter that has not started needs --as-of.
    """
    from posture.collect import collect as run_collect

    ws = Workspace.resolve(client)
    q = quarter_or_current(quarter)
    result = run_collect(ws, q, console=err, only=store, as_of=as_of.date() if as_of else None,
                         force=force)
    counts = result.sink.counts()
    table = Table(title=f"snapshot {ws.client} {q}")
    table.add_column("table")
    table.add_column("records", justify="right")
    for name in sorted(counts):
        if name != "coverage_gap":
            table.add_row(*cells(name, counts[name]))
    out.print(table)
    gaps = result.sink.gaps()
    if gaps:
        gt = Table(title=f"[bold red]{len(gaps)} coverage gap(s): dependent checks will be not_assessed")
        for c in ("store", "scope", "operation", "reason"):
            gt.add_column(c)
        for g in gaps[:50]:
            gt.add_row(*cells(g.store, g.scope, g.operation, g.reason))
        err.print(gt)
        if len(gaps) > 50:
            err.print(f"... and {len(gaps) - 50} more in {result.path / 'coverage_gap.jsonl'}", markup=False)
    else:
        out.print("no coverage gaps")
    out.print(f"snapshot written to {result.path}", markup=False)


# Failures of the machine, not of the kit: a full disk or quota, a file-size limit,
# a read-only or failing filesystem, missing permissions, no file descriptors left.
ENVIRONMENT_ERRNOS = frozenset({
    errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM,
    errno.EMFILE, errno.ENFILE,
})


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and turn user errors into one line + exit code."""
    from posture.commands import register_all

    register_all()
    try:
        rv = app(args=argv, standalone_mode=False)
    except Exit as e:
        return e.exit_code
    except PostureError as e:
        err.print(f"error: {printable(e)}", markup=False, highlight=False, soft_wrap=True)
        return e.exit_code
    except OSError as e:
        if e.errno not in ENVIRONMENT_ERRNOS:
            raise  # a bug, not the machine: keep the traceback
        where = f"{e.filename}: " if e.filename else ""
        err.print(f"error: {printable(where)}{e.strerror} ({errno.errorcode[e.errno]})",
                  markup=False, highlight=False, soft_wrap=True)
        return 1
    except Abort:
        err.print("aborted", markup=False)
        return 130
    except ClickException as e:
        if type(e).__name__ == "NoArgsIsHelpError":
            err.print(e.format_message(), markup=False, highlight=False)
            return 2
        err.print(f"error: {printable(e.format_message())}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted: nothing was written", markup=False)
        return 130
    return rv if isinstance(rv, int) else 0


def entry() -> None:  # pragma: no cover
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
