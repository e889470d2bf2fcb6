"""``posture policy vault|aws``: print the least-privilege, read-only assessor policy.

The other stores' assessor roles (``azure``, ``gcp``, ``kubernetes``) and the
policies suggested for the client's own identities (``suggest``, ``generate``)
register on the same `policy_app` from their own command modules.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Optional

import typer

from posture.cli import app
from posture.model.errors import ConfigError, PostureError

policy_app = typer.Typer(
    help="Policies: the read-only assessor access a client grants (vault, aws, azure, gcp, kubernetes: "
         "exactly what the collectors read), and least-privilege policies for the client's own "
         "identities (suggest: from observed use; generate: from an application's requirements).",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy")


@policy_app.command("vault")
def vault_policy(
    client: Annotated[
        Optional[str],
        typer.Argument(help="Client name or engagement file: read its Vault store's live mounts."),
    ] = None,
    mount: Annotated[
        Optional[list[str]],
        typer.Option("--mount", "-m", help="Secret engine TYPE:PATH (kv|kv2|kv1|transit|pki|database|other), repeatable."),
    ] = None,
    auth: Annotated[
        Optional[list[str]],
        typer.Option("--auth", "-a", help="Auth method TYPE:PATH (approle|userpass|jwt|oidc|kubernetes|...), repeatable."),
    ] = None,
    store: Annotated[Optional[str], typer.Option("--store", "-s", help="Which Vault store of the engagement.")] = None,
    product: Annotated[
        Optional[str], typer.Option(help="openbao or vault (default: detected, else openbao).")
    ] = None,
) -> None:
    """Print the minimal assessor ACL policy (HCL), one explicit stanza per mount.

    With --mount/--auth, covers exactly those. Otherwise reads the live mounts
    with the operator's own token: from CLIENT's Vault store, or from
    VAULT_ADDR/VAULT_TOKEN. Mounts added later are not covered and show up as
    coverage gaps on the next collection.
    """
    from collectors.vault.mounts import MountProblem
    from collectors.vault.policy import assessor_policy, live_mounts, parse_mount_arg, policy_header

    if product not in (None, "openbao", "vault"):
        raise ConfigError(f"--product {product!r}: expected openbao or vault")
    specs = [parse_mount_arg(m) for m in mount or []] + [parse_mount_arg(a, auth=True) for a in auth or []]
    source = "mounts given on the command line"
    problems: list[MountProblem] = []
    if not specs:
        from collectors.vault.auth import connect
        from posture.model.engagement import VaultStore

        if client:
            from posture.workspace import Workspace

            stores = Workspace.resolve(client).load().engagement.stores.vault
            if store:
                stores = [s for s in stores if s.name == store]
            if not stores:
                raise ConfigError(f"no Vault store{' named ' + repr(store) if store else ''} in {client}'s engagement")
            vstore = stores[0]
        elif os.environ.get("VAULT_ADDR"):
            vstore = VaultStore(name="vault")
        else:
            raise ConfigError("give a CLIENT, set VAULT_ADDR, or list mounts with --mount TYPE:PATH")
        http = connect(vstore)
        try:
            seal = http.request("GET", "sys/seal-status")
            detected = "vault" if isinstance(seal.data, dict) and "build_date" in seal.data else "openbao"
            product = product or detected
            specs, problems = live_mounts(http)
            if vstore.mounts:  # the engagement restricts collection to these secret mounts
                wanted = {m.strip("/") for m in vstore.mounts}
                specs = [s for s in specs if s.auth or s.path in wanted]
                problems = [p for p in problems if p.auth or p.key.strip("/") in wanted]
        finally:
            http.close()
        source = f"live mounts of {http.address}"
    product = product or "openbao"
    sys.stdout.write(assessor_policy(specs, product=product, header=policy_header(product, source),
                                     not_covered=problems))


@policy_app.command("aws")
def aws_policy(
    client: Annotated[
        Optional[str],
        typer.Argument(help="Client name or engagement file: adds read access to its s3:// CloudTrail log prefixes."),
    ] = None,
) -> None:
    """Print the read-only IAM policy document (JSON) the AWS collector needs.

    Standard error says which allowed actions return values the collector scans
    in memory and drops (stdout stays the policy alone, ready to paste).
    """
    try:
        from collectors.aws.guard import iam_policy_document, scanned_values_note
    except ImportError:
        raise PostureError("the AWS policy is not available: collectors.aws.guard is not installed") from None
    prefixes: list[str] = []
    if client:
        from posture.workspace import Workspace

        eng = Workspace.resolve(client).load().engagement
        prefixes = [p for s in eng.stores.aws for p in s.cloudtrail_logs if p.startswith("s3://")]
    sys.stdout.write(json.dumps(iam_policy_document(prefixes), indent=2) + "\n")
    sys.stderr.write(scanned_values_note())
