"""Northwind Payments, the demo's fictional client: its names and its only secret values."""

from __future__ import annotations

DEMO_CLIENT = "northwind"
DEMO_CLIENT_NAME = "Northwind Payments"

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
