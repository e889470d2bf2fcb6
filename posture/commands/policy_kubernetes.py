"""``posture policy kubernetes``: print the read-only assessor ClusterRole (and a binding template)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from posture.commands.policy import policy_app
from posture.model.errors import ConfigError


@policy_app.command("kubernetes")
def kubernetes_policy(
    client: Annotated[
        str | None,
        typer.Argument(help="Client name or engagement file: include secrets if a kubernetes store asks for "
                            "secret_metadata."),
    ] = None,
    secret_metadata: Annotated[
        bool, typer.Option("--secret-metadata", help="Grant list on secrets (metadata only is requested).")
    ] = False,
    subject: Annotated[
        str, typer.Option("--subject", help="Binding subject: User:NAME, Group:NAME or ServiceAccount:NS/NAME.")
    ] = "User:secrets-posture-assessor",
) -> None:
    """Print the ClusterRole YAML the Kubernetes collector needs: get/list on exactly what it reads.

    Standard error explains what list on secrets implies when it is included
    (stdout stays the YAML alone, ready for kubectl apply -f -).
    """
    from collectors.kubernetes.policy import SECRETS_NOTE, cluster_role_yaml

    kind, sep, name = subject.partition(":")
    if not sep or kind not in ("User", "Group", "ServiceAccount") or not name:
        raise ConfigError(f"--subject {subject!r}: expected User:NAME, Group:NAME or ServiceAccount:NS/NAME")
    if client:
        from posture.workspace import Workspace

        eng = Workspace.resolve(client).load().engagement
        secret_metadata = secret_metadata or any(s.secret_metadata for s in eng.stores.kubernetes)
    sys.stdout.write(cluster_role_yaml(secret_metadata, subject))
    if secret_metadata:
        sys.stderr.write("note: " + SECRETS_NOTE + "\n")
    else:
        sys.stderr.write("note: no access to secrets; Secret metadata (secret_metadata: true) needs "
                         "--secret-metadata.\n")
