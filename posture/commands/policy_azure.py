"""``posture policy azure``: print the read-only custom role the Azure collector needs."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from posture.commands.policy import policy_app


@policy_app.command("azure")
def azure_policy(
    client: Annotated[
        Optional[str],
        typer.Argument(help="Client name or engagement file: scope the role to its Azure stores' subscriptions."),
    ] = None,
) -> None:
    """Print the Azure custom role definition (JSON) the Key Vault collector needs.

    Standard output is the role alone, ready for ``az role definition create
    --role-definition @role.json``; standard error says why getSecret is absent
    and what access-policy vaults need instead.
    """
    try:
        from collectors.azure.policy import role_definition, role_note
    except ModuleNotFoundError as exc:
        from collectors.base import missing_extra

        raise missing_extra("azure", exc.name, "role") from None

    subscriptions: list[str] = []
    if client:
        from posture.workspace import Workspace

        eng = Workspace.resolve(client).load().engagement
        subscriptions = sorted({s for store in eng.stores.azure for s in store.subscriptions})
    sys.stdout.write(json.dumps(role_definition(subscriptions), indent=2) + "\n")
    sys.stderr.write(role_note())
