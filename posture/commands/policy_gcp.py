"""``posture policy gcp``: print the read-only custom IAM role the GCP collector needs."""

from __future__ import annotations

import sys

from posture.commands.policy import policy_app


@policy_app.command("gcp")
def gcp_policy() -> None:
    """Print a custom role (YAML for `gcloud iam roles create --file`) with exactly the metadata
    permissions the GCP collector uses, and no permission that reads a secret value.

    Standard error says how to grant it and what is left out; stdout stays the role alone.
    """
    try:
        from collectors.gcp.policy import role_note, role_yaml
    except ModuleNotFoundError as exc:
        from collectors.base import missing_extra

        raise missing_extra("gcp", exc.name, "role") from None
    sys.stdout.write(role_yaml())
    sys.stderr.write(role_note())
