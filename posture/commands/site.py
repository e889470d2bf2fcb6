"""``posture publish | export-site | serve | verify``: the versioned evidence site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from posture.cli import ClientArg, QuarterOpt, app, cells, err, out, quarter_or_current
from posture.invocation import command
from posture.workspace import Workspace, parse_quarter


@app.command()
def publish(
    client: ClientArg,
    quarter: QuarterOpt = None,
    force: Annotated[
        bool,
        typer.Option(help="Republish a quarter that is already published (recorded in the publish log)."),
    ] = False,
) -> None:
    """Build the quarter's evidence site and add it as version QUARTER (alias 'latest').

    The site is a git branch in sites/CLIENT/ (mike, no remote needed). A
    published quarter is immutable: publishing it again is refused unless
    --force is given, and a forced republish is logged with who, when and the
    old and new manifest hashes. Only an assessment of the current snapshot is
    published. Each quarter's manifest is signed with the engagement's Ed25519
    key (engagements/CLIENT/.signing-key, made on the first publish). Runs the
    notebooks first if 'posture assess' did not. Concurrent publishes of one
    client take turns.
    """
    from posture.site import publish as run_publish

    ws = Workspace.resolve(client)
    q = quarter_or_current(quarter)
    result = run_publish(ws, q, force=force, console=err)
    verb = "republished (forced, logged)" if result.forced else "published"
    out.print(f"{verb} {ws.client} {q}: {result.files} files, manifest sha256 "
              f"{result.manifest_sha256[:16]}…, commit {result.commit[:12]}")
    out.print(f"signed with the engagement's key {result.signing_key} (give readers this "
              "fingerprint to check the site with)", markup=False)
    run = command()
    out.print(f"preview: {run} serve {ws.client}    static copy: {run} export-site {ws.client} DIR",
              markup=False, highlight=False)


@app.command("export-site")
def export_site(
    client: ClientArg,
    dest: Annotated[Path, typer.Argument(help="Folder to write (new, empty, or an earlier export).")],
) -> None:
    """Write every published quarter as a plain folder, for offline browsing or any static host.

    Serve it over HTTP (search and the version selector do not work from file://).
    """
    from posture.site import export_site as run_export

    ws = Workspace.resolve(client)
    path = run_export(ws, dest)
    out.print(f"exported {ws.client}'s site to {path}")


@app.command()
def serve(
    client: ClientArg,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8000,
) -> None:
    """Preview the published site over HTTP on 127.0.0.1 until Ctrl-C."""
    from posture.site import serve as run_serve

    run_serve(Workspace.resolve(client), port=port, console=err)


@app.command()
def verify(
    client: ClientArg,
    quarter: Annotated[str | None, typer.Argument(help="Only this quarter (YYYY-QN).")] = None,
) -> None:
    """Check the published site against its signed manifests and its evidence.

    Checks each quarter's signature (with engagements/CLIENT/signing-key.pem;
    the private key is not needed), the publish log, the entry points
    (versions.json, the root page, latest/), every page and evidence file, and
    the chain snapshot -> assessment -> pages. Exits 5 and names what differs.
    """
    from posture.site import verify as run_verify

    ws = Workspace.resolve(client)
    results = run_verify(ws, parse_quarter(quarter) if quarter else None)
    table = Table(title=f"{ws.client}: published evidence verified")
    table.add_column("quarter")
    table.add_column("artefacts", justify="right")
    table.add_column("signed by")
    table.add_column("result")
    for r in results:
        table.add_row(*cells(r.quarter, r.checked, r.signing_key, "unchanged"))
    out.print(table)
