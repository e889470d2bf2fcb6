"""GCP Secret Manager checks: rotation schedules, who can read values, versions left enabled, CMEK.

The generic inventory and lifecycle checks (INV*, LCY*) already score GCP
secrets and keys from the generic columns the collector fills; these checks
judge what only GCP has. Who can read a secret's value is the union of its own
IAM policy, its project's, and those of every folder and the organization
above the project (a binding there reaches every secret below it); a secret
any of whose policies was not read is not_assessed, never passed.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from checks.catalog import CheckContext, as_list, because, check, emit, list_len, na_if

#: Predefined roles that carry ``secretmanager.versions.access`` (read a secret's payload):
#: Secret Accessor and Admin (Google's Secret Manager roles reference), and the basic roles
#: Owner and Editor, which carry Secret Manager's permissions wholesale. Custom roles are not
#: resolved (their permissions are not read) and so are not counted.
VALUE_ROLES = frozenset({"roles/secretmanager.secretAccessor", "roles/secretmanager.admin", "roles/owner",
                         "roles/editor"})
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
#: Google-created default identities that every VM, App Engine app or legacy build runs as.
DEFAULT_SERVICE_ACCOUNTS = (
    re.compile(r"^serviceAccount:\d+-compute@developer\.gserviceaccount\.com$"),
    re.compile(r"^serviceAccount:[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)?@appspot\.gserviceaccount\.com$"),
    re.compile(r"^serviceAccount:\d+@cloudbuild\.gserviceaccount\.com$"),
)
BASELINE = "GCP baseline (CIS Google Cloud Foundations, Security Command Center)"
NO_SECRET_POLICY = "the secret's IAM policy was not read (secretmanager.secrets.getIamPolicy)"
NO_PROJECT_POLICY = ("the IAM policy of the project, or of a folder or the organization above it, was not read "
                     "(resourcemanager.projects.get / projects.getIamPolicy / folders.getIamPolicy / "
                     "organizations.getIamPolicy)")


def _secrets(ctx: CheckContext) -> pd.DataFrame:
    """GCP secrets that are secrets (not configuration), with their classification."""
    s = ctx.frame("secret")
    s = s[s["source"].eq("gcp") & s["kind"].eq("gcp_secret")]
    it = ctx.items
    if len(it) and len(s):
        cls = it[it["table"].eq("secret")].drop_duplicates("id").set_index("id")
        s = s.assign(item_class=s["id"].map(cls["item_class"]), data_class=s["id"].map(cls["data_class"]),
                     environment=s["id"].map(cls["environment"]))
        return s[s["item_class"].fillna("secret").eq("secret")]
    return s.assign(item_class="secret", data_class=None, environment=None)


def broad_member(member: str, broad_group_words: list[str]) -> str | None:
    """Why an IAM member stands for the public or a whole organisation, or None.

    General class: members whose set is unbounded or organisation-wide:
    ``allUsers``, ``allAuthenticatedUsers`` (any Google account), ``domain:``
    (every account of a Workspace domain), a workforce/workload pool's
    ``principalSet://.../*``, and a ``group:`` whose local part names everyone
    (a word of ``gcp_broad_group_words``: ``all-staff@``, ``everyone@``).
    A named user, service account or team group is not broad.
    """
    if member in PUBLIC_MEMBERS:
        return "public"
    if member.startswith("domain:"):
        return "whole domain"
    if member.startswith("principalSet://") and member.endswith("/*"):
        return "every identity of a pool"
    if member.startswith("group:"):
        local = member[len("group:"):].split("@", 1)[0].lower()
        words = set(re.split(r"[-_.+]", local))
        if words & {w.lower() for w in broad_group_words}:
            return "organisation-wide group"
    return None


def default_service_account(member: str) -> bool:
    """A Google-created default service account (Compute Engine, App Engine, legacy Cloud Build)."""
    return any(rx.match(member) for rx in DEFAULT_SERVICE_ACCOUNTS)


def _readers(ctx: CheckContext, s: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per secret: its value-reading grants [(member, role, level, conditional)] from its own policy,
    its project's and every folder and organization above the project; whether its own policy was
    read; and whether all of the inherited ones were (the project's parents known, each policy read)."""
    pol = ctx.frame("policy")
    pol = pol[pol["source"].eq("gcp")]
    rules = ctx.frame("policy_rule")
    rules = rules[rules["source"].eq("gcp")]
    srv = ctx.frame("server")
    srv = srv[srv["source"].eq("gcp")]
    parents = {(st, a): (list(p) if isinstance(p, (list, np.ndarray)) else None)
               for st, a, p in zip(srv["store"], srv["address"], srv["parents"])}
    read_ids = set(zip(pol["store"], pol["id"]))
    grants: dict[tuple[str, str], list[tuple[str, str, bool]]] = {}
    for store, pid, caps, members, cond in zip(rules["store"], rules["policy_id"], rules["capabilities"],
                                               rules["principals"], rules["conditions"]):
        roles = [r for r in as_list(caps) if r in VALUE_ROLES]
        for role in roles:
            for m in as_list(members):
                grants.setdefault((store, pid), []).append((str(m), role, bool(cond)))
    every, own_read, inherited_read = [], [], []
    for st, sid, project in zip(s["store"], s["id"], s["account"].fillna("")):
        above = parents.get((st, project))
        levels = [(f"{sid}/iam", "secret"), (f"gcp:{st}:projects/{project}/iam", "project")]
        levels += [(f"gcp:{st}:{node}/iam", node.split("/")[0][:-1]) for node in above or []]
        every.append([(m, r, lvl, c) for pid, lvl in levels for m, r, c in grants.get((st, pid), [])])
        own_read.append((st, levels[0][0]) in read_ids)
        inherited_read.append(above is not None and all((st, pid) in read_ids for pid, _ in levels[1:]))
    return (pd.Series(every, index=s.index, dtype=object), pd.Series(own_read, index=s.index, dtype=bool),
            pd.Series(inherited_read, index=s.index, dtype=bool))


def _describe(found: list[tuple[str, str, str, bool]]) -> list[str]:
    return sorted({f"{m} ({r} on the {lvl}{', conditional' if c else ''})" for m, r, lvl, c in found})


@check("GSM001", "Secret Manager secret without a rotation schedule", stage=3, item=3, anti_pattern="no_rotation",
       severity="medium", inputs=("secret",), sources=("gcp",), thresholds=("rotation_days",),
       controls=("rotation",),
       detects="A GCP Secret Manager secret with no `rotation.rotationPeriod`, or with a period but no "
               "Pub/Sub `topics` to send the rotation notice to (a label or annotation saying "
               "'rotation' is not a schedule). A secret whose `expireTime` ends its life within its "
               "type's `rotation_days` passes: it expires before rotation would be due.",
       why="Secret Manager rotates nothing by itself: it publishes SECRET_ROTATE to the secret's topics "
           "on schedule, and a rotator adds the new version. Without a period, or without a topic, no "
           "rotation ever starts (seed 001: 'No rotation policy').",
       fix="`gcloud secrets update NAME --rotation-period=30d --next-rotation-time=... "
           "--topics=projects/P/topics/secret-rotation` and subscribe the rotating function to the topic.")
def gcp_secret_without_rotation(ctx: CheckContext) -> pd.DataFrame:
    """General class: a managed secret whose store-side rotation schedule is missing or cannot fire.
    A secret that expires (``expireTime``) within its type's rotation period needs no schedule: it is
    gone before it would be due."""
    s = _secrets(ctx)
    period = pd.to_numeric(s["rotation_interval_days"], errors="coerce")
    topics = list_len(s["rotation_topics"])
    it = ctx.items
    stype = s["id"].map(it.drop_duplicates("id").set_index("id")["secret_type"]) if len(it) else \
        pd.Series(None, index=s.index, dtype=object)
    rd = ctx.thresholds.rotation_days
    max_days = stype.map(rd).fillna(rd.get("generic", 90)).astype(float)
    life = pd.to_numeric(s["default_ttl"], errors="coerce") / 86_400
    short_lived = life.le(max_days).fillna(False).astype(bool)
    return emit(s, (period.notna() & topics.gt(0)) | short_lived, rotation_period_days=period,
                rotation_topics=topics, next_rotation_at=s["next_rotation_at"], lifetime_days=life.round(1),
                max_age_days=max_days)


@check("GSM002", "Secret readable by the public, a whole domain or an organisation-wide group", stage=2, item=2,
       anti_pattern=BASELINE, severity="critical", inputs=("secret", "policy", "policy_rule"), sources=("gcp",),
       thresholds=("gcp_broad_group_words",), controls=("public_access", "least_privilege"),
       references=("Secret Manager access control: principle of least privilege",),
       detects="A GCP secret whose own IAM policy, or its project's, folders' or organization's, grants a "
               "value-reading role "
               "(`roles/secretmanager.secretAccessor`, `roles/secretmanager.admin`, `roles/owner`, "
               "`roles/editor`) to `allUsers`, `allAuthenticatedUsers`, a `domain:`, a pool's "
               "`principalSet://.../*`, or a group named for everyone (`gcp_broad_group_words`).",
       why="Anyone in that set can call AccessSecretVersion and read every version's value; a project "
           "binding does so for every secret of the project at once.",
       fix="Remove the binding (`gcloud secrets remove-iam-policy-binding NAME --member=allUsers "
           "--role=roles/secretmanager.secretAccessor`, or `gcloud projects remove-iam-policy-binding`) and "
           "grant secretAccessor on the one secret to the one service account that needs it.")
def gcp_secret_public_readers(ctx: CheckContext) -> pd.DataFrame:
    """General class: value access granted to an unbounded or organisation-wide audience."""
    s = _secrets(ctx)
    every, own_read, inherited_read = _readers(ctx, s)
    words = ctx.thresholds.gcp_broad_group_words
    broad = every.map(lambda g: [x for x in g if broad_member(x[0], words)])
    unknown = ~(own_read & inherited_read) & broad.map(len).eq(0)
    return emit(s, na_if(unknown, broad.map(len).eq(0)), broad_readers=broad.map(_describe),
                why_unknown=because((~own_read, NO_SECRET_POLICY), (~inherited_read, NO_PROJECT_POLICY)))


@check("GSM003", "Secret readable by a default service account", stage=2, item=2, anti_pattern="shared_accounts",
       severity="high", inputs=("secret", "policy", "policy_rule"), sources=("gcp",),
       controls=("least_privilege", "identity"),
       references=("CIS Google Cloud Foundations 4.1 (default Compute Engine service account)",),
       detects="A GCP secret that a Google-created default service account can read through its own or its "
               "project's (or an ancestor's) policy: `PROJECT_NUMBER-compute@developer.gserviceaccount.com` (every VM and GKE "
               "node that was not given its own account), `PROJECT_ID@appspot.gserviceaccount.com` (App "
               "Engine, Cloud Functions gen1), `PROJECT_NUMBER@cloudbuild.gserviceaccount.com` (legacy builds).",
       why="A default service account is shared by every workload that did not choose another, so the "
           "secret is readable by all of them (seed 001: 'Shared service accounts'); the compute account "
           "also gets roles/editor on the project when the API is enabled.",
       fix="Give each workload its own service account, grant it secretAccessor on its secrets only, and "
           "remove the default account's binding (and its project roles/editor).")
def gcp_secret_default_sa_readers(ctx: CheckContext) -> pd.DataFrame:
    """General class: value access through identities shared by every workload of a project."""
    s = _secrets(ctx)
    every, own_read, inherited_read = _readers(ctx, s)
    shared = every.map(lambda g: [x for x in g if default_service_account(x[0])])
    unknown = ~(own_read & inherited_read) & shared.map(len).eq(0)
    return emit(s, na_if(unknown, shared.map(len).eq(0)), default_sa_readers=shared.map(_describe),
                why_unknown=because((~own_read, NO_SECRET_POLICY), (~inherited_read, NO_PROJECT_POLICY)))


@check("GSM004", "Secret keeps more than {gcp_max_enabled_versions} enabled versions", stage=3, item=3,
       anti_pattern="fm_consumers", severity="medium", inputs=("secret",), sources=("gcp",),
       thresholds=("gcp_max_enabled_versions",), controls=("rotation",),
       detects="A GCP secret with more ENABLED versions than `gcp_max_enabled_versions` (the current one "
               "plus one during a rollover).",
       why="Every enabled version can still be read: a rotation that leaves the old versions enabled has "
           "not revoked anything, and consumers pinned to old versions go unnoticed (seed 002: 'Secret "
           "rotated but consumers not updated').",
       fix="Disable superseded versions once consumers use `latest` (`gcloud secrets versions disable N "
           "--secret=NAME`), destroy them after a grace period, and set `--version-destroy-ttl`.")
def gcp_secret_enabled_versions(ctx: CheckContext) -> pd.DataFrame:
    """General class: superseded credential versions still valid after rotation."""
    s = _secrets(ctx)
    n = pd.to_numeric(s["enabled_versions"], errors="coerce")
    return emit(s, na_if(n.isna(), n.le(ctx.thresholds.gcp_max_enabled_versions)), enabled_versions=n,
                versions_by_state=s["versions_by_state"],
                why_unknown="the secret's versions could not be listed (secretmanager.versions.list)")


@check("GSM005", "Confidential or regulated secret without a customer-managed key (CMEK)", stage=2, item=2,
       anti_pattern="fm_hsm", severity="medium", inputs=("secret",), sources=("gcp",),
       thresholds=("critical_classes",), controls=("encryption_at_rest", "key_management"),
       detects="A GCP secret classified confidential or regulated (`critical_classes`) that is not "
               "encrypted under a Cloud KMS key of the client's on every replica (automatic replication "
               "without `customerManagedEncryption`, or a user-managed replica without one).",
       why="Under Google-managed encryption nobody but Google can revoke or audit the key; a CMEK adds a "
           "separately controlled, separately logged key, and disabling it cuts access at once "
           "(seed 002: KEKs in KMS/HSM).",
       fix="Create the secret with `--kms-key-name` (automatic) or `--replication-policy-file` naming a key "
           "per replica, and grant the Secret Manager service agent roles/cloudkms.cryptoKeyEncrypterDecrypter.")
def gcp_secret_without_cmek(ctx: CheckContext) -> pd.DataFrame:
    """General class: high-value data encrypted only under the provider's own keys."""
    s = _secrets(ctx)
    s = s[s["data_class"].isin(ctx.thresholds.critical_classes)]
    cmek = s["customer_managed_key"].astype("boolean")
    return emit(s, na_if(cmek.isna(), cmek.fillna(False)), data_class=s["data_class"],
                replication=s["replication"], kms_key_ids=s["kms_key_ids"],
                why_unknown="Secret Manager reported no replication policy for this secret")


@check("GSM006", "CMEK key without automatic rotation within {kms_rotation_days} days", stage=3, item=3,
       anti_pattern="rotation_table", severity="medium", inputs=("key",), sources=("gcp",),
       thresholds=("kms_rotation_days",), controls=("key_management", "rotation"),
       references=("CIS Google Cloud Foundations 1.10 (KMS keys rotated within 90 days: set kms_rotation_days: 90)",),
       detects="A Cloud KMS key protecting GCP secrets whose `rotationPeriod` is unset or longer than "
               "`kms_rotation_days`.",
       why="Automatic rotation bounds how much data one key version protects and how long a leaked "
           "version stays useful (seed 001: encryption keys rotate on a schedule).",
       fix="`gcloud kms keys update KEY --keyring=RING --location=LOC --rotation-period=90d "
           "--next-rotation-time=...`.")
def gcp_cmek_rotation(ctx: CheckContext) -> pd.DataFrame:
    """General class: a customer-managed encryption key that never rotates, or too rarely."""
    k = ctx.frame("key")
    k = k[k["source"].eq("gcp") & k["kind"].eq("gcp_kms")]
    period = pd.to_numeric(k["rotation_period_days"], errors="coerce")
    return emit(k, period.notna() & period.le(ctx.thresholds.kms_rotation_days), path=k["arn"].fillna(k["id"]),
                rotation_period_days=period, next_rotation_at=k["next_rotation_at"],
                protection_level=k["protection_level"])
