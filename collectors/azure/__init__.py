"""Azure Key Vault collector (issue #16): vault properties, RBAC and access policies, item metadata; never a value."""
