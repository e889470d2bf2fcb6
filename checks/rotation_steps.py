"""The order of operations for rotating each type of secret, taken from the seeds.

Pure data and one lookup: which seed method an item follows (`method_for`), and
that method's ordered steps, its overlap window and its revocation path
(`ROTATION_METHODS`). Nothing here reads a secret value or applies a threshold;
`checks.views.rotation_plan` applies the assessment's thresholds (periods,
overlap lengths) when it builds the plan.

Sources, quoted or paraphrased closely:

- seed 001 (Secrets Vault Manager), "Rotation Strategy by Secret Type": database
  passwords 30 days by dual-account swap; API keys 90 days, generate new,
  deprecate old (overlap window); TLS certificates 60 days before expiry, ACME or
  Vault PKI (graceful reload); SSH keys 90 days, Vault-signed certificates
  (CA-based); service tokens 24 hours, dynamic generation; encryption keys 90
  days, key versioning (rewrap). Its "Database Credential Rotation (Dual-Account)"
  and "API Key Rotation (Overlap Window)" give the two numbered sequences; its
  "SSH Certificate Authority" the CA sequence; "Dynamic Secrets" the dynamic one;
  "Emergency Procedures" step 2 ("Revoke immediately - rotate the compromised
  credential at the source") the revocation path of every type.
- seed 000 (Secrets Management, Deep Workflow), Stage 3: "Dual-credential
  periods", "Revocation: immediate invalidation paths for compromise (API key
  disable, cert CRL, session kill)", and the pitfalls "rotating DB password
  without connection pool drain" and "clients caching JWT signing keys without key
  ID rotation support".
- seed 002 (Secrets Management Deep Pattern): "JWT signing keys: rotated on
  schedule; old keys retained for verification"; DEKs wrapped by a KEK in KMS;
  dynamic credentials "revokes on expiry"; workload identity over static cloud keys.
- seed 003 (Secrets Management): "Rolling rotation: deploy new key, keep old key
  for grace period, then disable"; "Rotate certificates before expiry"; "Monitor
  certificate expiry; alert if not renewed in time"; "store private key in vault".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RotationMethod:
    """One row of the seed's rotation table with its sequence (general class: every
    credential of one rotation type rotates in the same order)."""

    key: str
    label: str
    method: str
    steps: tuple[str, ...]
    overlap: str
    revocation: str
    seed: str
    #: False: nothing to put in a calendar (credentials issued per request, expiring by themselves).
    scheduled: bool = True


DUAL_ACCOUNT = RotationMethod(
    key="dual-account",
    label="Database passwords",
    method="Dual-account swap (A/B rotation)",
    steps=(
        "Two database accounts exist for the application: account A and account B.",
        "The application currently uses account A.",
        "Rotate account B's password and update the secret store with it.",
        "The application switches to account B on its next credential fetch (drain connection pools; "
        "no thundering reconnect).",
        "After the grace period, rotate account A's password.",
        "The cycle repeats at the next due date, with the accounts' roles swapped.",
    ),
    overlap="Both accounts stay valid while the application moves from A to B (until every instance "
            "has fetched B's credential); then A is rotated.",
    revocation="Rotate the account's password at the database now (or revoke its dynamic leases) and "
               "switch consumers to the other account.",
    seed="seed 001 Rotation Strategy by Secret Type; Database Credential Rotation (Dual-Account); "
         "seed 000 Stage 3 pitfall (connection pool drain)",
)

OVERLAP_WINDOW = RotationMethod(
    key="overlap-window",
    label="API keys",
    method="Generate new, deprecate old (overlap window)",
    steps=(
        "Generate a new API key with the provider.",
        "Store the new key in the secret store as current; move the old key to previous.",
        "Deploy the applications: they read current.",
        "After all instances have restarted (or their cached TTL expired), revoke previous.",
        "Monitoring confirms zero usage of the old key before its revocation.",
    ),
    overlap="Old (previous) and new (current) keys both work until every instance has restarted or "
            "its cached TTL expired and monitoring shows zero use of the old key.",
    revocation="Disable the key at the provider and rotate it at the source.",
    seed="seed 001 Rotation Strategy by Secret Type; API Key Rotation (Overlap Window); "
         "seed 003 Key Rotation (rolling rotation)",
)

TLS_RENEWAL = RotationMethod(
    key="tls-renewal",
    label="TLS certificates",
    method="Renew before expiry: ACME or Vault PKI (graceful reload)",
    steps=(
        "Issue the replacement certificate through ACME or Vault PKI before the renew-before date.",
        "Keep its private key in the secret store, never in version control.",
        "Deploy it and reload the servers gracefully (no dropped connections).",
        "Verify the served certificate is the new one; keep monitoring expiry and alert if a renewal "
        "did not happen in time.",
        "Let the old certificate expire; revoke it (CRL/OCSP) only if its key was exposed.",
    ),
    overlap="The old certificate stays valid until its expiry while the new one is deployed.",
    revocation="Revoke the certificate (CRL/OCSP at the issuing CA) and reissue.",
    seed="seed 001 Rotation Strategy by Secret Type (60 days before expiry); seed 003 Certificate "
         "Management; seed 000 Stage 3 (cert CRL)",
)

SSH_CA = RotationMethod(
    key="ssh-ca",
    label="SSH keys",
    method="Vault-signed SSH certificates (CA-based)",
    steps=(
        "Vault acts as the SSH CA.",
        "Users and machines request signed certificates with a short TTL.",
        "SSH servers trust the CA public key: no authorized_keys management.",
        "Certificates expire automatically: no revocation needed for normal operations.",
        "Replace any remaining static key pair with a CA-signed certificate and remove it from "
        "authorized_keys.",
    ),
    overlap="None needed: each signed certificate lives only for its TTL.",
    revocation="Remove the static key from authorized_keys; for a leaked CA key, rotate the CA and "
               "re-distribute its public key to the servers.",
    seed="seed 001 Rotation Strategy by Secret Type; SSH Certificate Authority",
)

DYNAMIC = RotationMethod(
    key="dynamic",
    label="Service tokens",
    method="Dynamic generation (short-lived)",
    steps=(
        "Each consumer requests its credential on demand (at startup or per session).",
        "The credential expires automatically within its TTL (24 hours at most).",
        "The consumer renews before expiry; nothing is rotated by hand.",
    ),
    overlap="None: each credential expires by itself.",
    revocation="Revoke the lease or token (bao lease revoke / token revoke); the engine revokes on expiry.",
    seed="seed 001 Rotation Strategy by Secret Type (service tokens 24 hours); Dynamic Secrets; "
         "seed 002 Dynamic secrets",
    scheduled=False,
)

KEY_VERSIONING = RotationMethod(
    key="key-versioning",
    label="Encryption keys",
    method="Key versioning (rewrap)",
    steps=(
        "Rotate the key: a new key version becomes the one that encrypts.",
        "Older versions stay available for decryption (version coexistence).",
        "Rewrap stored ciphertext (wrapped data keys) under the new version.",
        "When the rewrap is complete, raise the minimum decryption version (retire the old versions).",
        "Check the audit log for decrypt requests under retired versions.",
    ),
    overlap="Old and new versions coexist for decryption until every ciphertext is rewrapped.",
    revocation="Disable the compromised key version and rewrap data under a new version.",
    seed="seed 001 Rotation Strategy by Secret Type (key versioning, rewrap); seed 002 Secret types "
         "(DEK wrapped by KEK)",
)

SIGNING_KEY = RotationMethod(
    key="signing-key",
    label="Signing keys",
    method="New key version with a new key ID; old key kept for verification",
    steps=(
        "Generate a new signing key version with a new key ID (kid).",
        "Publish its public key beside the old one (e.g. in the JWKS).",
        "Switch signing to the new key ID.",
        "Keep the old public key for verification until everything it signed has expired.",
        "Remove the old key.",
    ),
    overlap="Verifiers accept both key IDs until everything signed with the old key has expired.",
    revocation="Remove the key ID from the published keys (every signature it made stops verifying) "
               "and sign with a new key.",
    seed="seed 002 Secret types (JWT signing keys: old keys retained for verification); seed 000 "
         "Stage 3 pitfall (key ID rotation)",
)

CLOUD_ACCESS_KEY = RotationMethod(
    key="cloud-access-key",
    label="Cloud access keys",
    method="Replace with a role; else second key, overlap window, delete old",
    steps=(
        "Prefer replacing the key with a role (workload identity or OIDC federation).",
        "Otherwise create a second access key for the same principal.",
        "Store it in the secret store as current and deploy the consumers.",
        "Confirm the old key's last use is before the switch (zero usage).",
        "Deactivate the old key, then delete it.",
    ),
    overlap="Both keys are active until the consumers use the new one and the old shows no use.",
    revocation="Deactivate the access key at the provider (aws iam update-access-key --status "
               "Inactive), then delete it.",
    seed="seed 002 Workload identity; seed 001 API Key Rotation (Overlap Window)",
)

ROTATION_METHODS: dict[str, RotationMethod] = {
    m.key: m for m in (DUAL_ACCOUNT, OVERLAP_WINDOW, TLS_RENEWAL, SSH_CA, DYNAMIC, KEY_VERSIONING,
                       SIGNING_KEY, CLOUD_ACCESS_KEY)
}

#: Secret type (`checks.classify`) -> the seed method it rotates by. A type not named here
#: (generic, OAuth client and webhook secrets) rotates by the overlap window (seed 003's
#: rolling rotation: deploy new, keep old for a grace period, then disable).
METHOD_BY_TYPE: dict[str, str] = {
    "db-password": "dual-account",
    "api-key": "overlap-window",
    "tls": "tls-renewal",
    "ssh": "ssh-ca",
    "token": "overlap-window",
    "encryption-key": "key-versioning",
    "signing-key": "signing-key",
    "cloud-access-key": "cloud-access-key",
}


def method_for(secret_type: str | None, lifecycle_class: str | None) -> RotationMethod:
    """The seed method an item rotates by: dynamic when its credentials are issued per
    request (seed 002's dynamic short-lived class), else by its secret type."""
    if lifecycle_class == "dynamic-short-lived":
        return DYNAMIC
    return ROTATION_METHODS[METHOD_BY_TYPE.get(secret_type or "", "overlap-window")]


def numbered(steps: tuple[str, ...] | list[str]) -> list[str]:
    """Steps as a person reads them: ``1. ...``, in order."""
    return [f"{i}. {s}" for i, s in enumerate(steps, 1)]
