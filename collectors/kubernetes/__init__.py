"""The Kubernetes collector: RBAC, service accounts, pods and secret-manager integrations, read-only.

Secret objects are never read, only listed as metadata when the engagement
asks (``secret_metadata: true``); `collectors.kubernetes.guard` refuses every
request that could return a value before it is sent.
"""
