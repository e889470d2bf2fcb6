"""GCP Secret Manager: secrets' and versions' metadata, IAM bindings, the CMEK keys behind them.

Read with Google's own SDKs (``google-cloud-secret-manager``, ``-resource-manager``,
``-kms``) over their REST transport, authenticated with Application Default
Credentials, through a read-only guard at the transport (`collectors.gcp.guard`):
no secret payload is ever requested.
"""
