"""AWS checks: Secrets Manager, KMS, IAM keys and policies, SSM, ACM, CloudTrail.

Each names the Prowler check / AWS Config rule / Steampipe control it mirrors
(in ``references``), so a client's existing tooling can be cross-referenced.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from checks.aws_exposure_checks import definition_secrets
from checks.catalog import CheckContext, check, emit, empty_result, list_len, na_if, stores_of
from checks.oidc_trust import oidc_trust_problems

DEFAULT_KEYS = ("alias/aws/secretsmanager", "alias/aws/ssm")


def _sm(ctx: CheckContext) -> pd.DataFrame:
    s = ctx.frame("secret")
    return s[s["kind"].eq("secretsmanager") & s["deleted_at"].isna()]


@check("AWS001", "Secrets Manager secret without automatic rotation", stage=3, item=3,
       anti_pattern="no_rotation", severity="high", inputs=("secret",), sources=("aws",),
       controls=("rotation",),
       references=("Prowler secretsmanager_automatic_rotation_enabled",
                   "AWS Config secretsmanager-rotation-enabled-check"),
       detects="A Secrets Manager secret with rotation disabled.",
       why="Without a rotation function a compromised credential persists indefinitely.",
       fix="Attach a rotation Lambda (`aws secretsmanager rotate-secret --secret-id ARN "
           "--rotation-lambda-arn ... --rotation-rules AutomaticallyAfterDays=30`); for RDS use "
           "managed rotation.")
def secretsmanager_rotation_disabled(ctx: CheckContext) -> pd.DataFrame:
    s = _sm(ctx)
    rot = s["rotation_enabled"].astype("boolean")
    return emit(s, na_if(rot.isna(), rot.fillna(False)), resource=s["arn"].fillna(s["id"]),
                rotation_enabled=s["rotation_enabled"],
                why_unknown="Secrets Manager did not say whether rotation is enabled for this secret")


@check("AWS002", "Secrets Manager rotation interval longer than the type's maximum", stage=3,
       item=3, anti_pattern="rotation_table", severity="medium", inputs=("secret",),
       sources=("aws",), thresholds=("rotation_days",), controls=("rotation",),
       references=("AWS Config secretsmanager-secret-periodic-rotation",),
       detects="A rotating secret whose schedule is longer than `rotation_days` for its type "
               "(DB passwords 30 d, API keys 90 d, ...).",
       why="Rotation only bounds exposure if the interval matches the credential's risk.",
       fix="`aws secretsmanager rotate-secret --rotation-rules AutomaticallyAfterDays=<max>`.")
def secretsmanager_rotation_interval(ctx: CheckContext) -> pd.DataFrame:
    s = _sm(ctx)
    s = s[s["rotation_enabled"].astype("boolean").fillna(False).astype(bool)]
    it = ctx.items.set_index("id")["secret_type"] if len(ctx.items) else pd.Series(dtype=object)
    stype = s["id"].map(it).fillna("generic")
    rd = ctx.thresholds.rotation_days
    maxd = stype.map(rd).fillna(rd.get("generic", 90)).astype(float)
    iv = pd.to_numeric(s["rotation_interval_days"], errors="coerce")
    return emit(s, na_if(iv.isna(), iv.le(maxd)), resource=s["arn"].fillna(s["id"]),
                rotation_interval_days=s["rotation_interval_days"], secret_type=stype, max_days=maxd,
                why_unknown="rotation is enabled but Secrets Manager reported no rotation interval")


@check("AWS003", "Secrets Manager secret encrypted with the AWS-managed key", stage=2, item=2,
       anti_pattern="aws_baseline", severity="low", inputs=("secret",), sources=("aws",),
       controls=("encryption_at_rest", "key_management"),
       references=("AWS Config secretsmanager-using-cmk", "Steampipe secretsmanager_secret_encrypted_with_kms_cmk"),
       detects="A Secrets Manager secret without a customer-managed KMS key.",
       why="The AWS-managed key's policy cannot be scoped, so who-can-decrypt equals who-can-read; "
           "a CMK adds a second, separately audited control (envelope encryption).",
       fix="`aws secretsmanager update-secret --secret-id ARN --kms-key-id <cmk>`.")
def secretsmanager_default_kms_key(ctx: CheckContext) -> pd.DataFrame:
    s = _sm(ctx)
    k = s["kms_key_id"].fillna("")
    ok = k.ne("") & ~k.str.endswith(DEFAULT_KEYS)
    return emit(s, ok, resource=s["arn"].fillna(s["id"]), kms_key_id=s["kms_key_id"])


@check("AWS004", "Secrets Manager secret unused", stage=1, item=3, anti_pattern="orphaned",
       severity="low", inputs=("secret",), sources=("aws",), thresholds=("orphaned_secret_days",),
       controls=("unused_credentials", "inventory"),
       references=("AWS Config secretsmanager-secret-unused", "Prowler secretsmanager_secret_unused"),
       detects="A secret not retrieved for `orphaned_secret_days`.",
       why="Unused secrets are attack surface with no owner watching them.",
       fix="Confirm with the owner, then `aws secretsmanager delete-secret --recovery-window-in-days 30`.")
def secretsmanager_unused(ctx: CheckContext) -> pd.DataFrame:
    s = _sm(ctx)
    basis = s["last_accessed_at"].fillna(s["created_at"])
    age = ctx.age_days(basis)
    return emit(s, na_if(age.isna(), age.le(ctx.thresholds.orphaned_secret_days)),
                resource=s["arn"].fillna(s["id"]), last_accessed_at=s["last_accessed_at"],
                days_since_access=age.round(1),
                why_unknown="Secrets Manager reported neither a last-accessed nor a creation date")


def _policy_public(p: pd.DataFrame) -> pd.Series:
    def public(doc: object) -> bool:
        if not isinstance(doc, str) or not doc.strip():
            return False
        try:
            stmts = json.loads(doc).get("Statement", [])
        except (ValueError, AttributeError):
            return False
        for st in stmts if isinstance(stmts, list) else [stmts]:
            if st.get("Effect") != "Allow" or st.get("Condition"):
                continue
            pr = st.get("Principal")
            aws = pr.get("AWS") if isinstance(pr, dict) else pr
            vals = aws if isinstance(aws, list) else [aws]
            if "*" in vals:
                return True
        return False

    return p["document"].map(public)


@check("AWS005", "Secret or KMS key policy allows any principal", stage=2, item=2,
       anti_pattern="wildcard", severity="critical", inputs=("policy",), sources=("aws",),
       controls=("public_access", "least_privilege"),
       references=("Prowler secretsmanager_not_publicly_accessible",
                   "Prowler kms_key_not_publicly_accessible"),
       detects='A Secrets Manager resource policy or KMS key policy with an unconditioned '
               '"Principal": "*" allow.',
       why="Anyone with an AWS account can read the secret or use the key.",
       fix="Restrict Principal to the account's roles, or add `aws:PrincipalOrgID` / "
           "`aws:SourceAccount` conditions.")
def resource_policy_public(ctx: CheckContext) -> pd.DataFrame:
    p = ctx.frame("policy")
    p = p[p["kind"].isin(["kms_key", "secret_resource"])]
    pub = _policy_public(p)
    return emit(p, na_if(p["document"].isna(), ~pub.astype(bool)), resource=p["attached_to"].fillna(p["id"]),
                path=p["name"], policy_kind=p["kind"], why_unknown="the policy document was not returned")


def _cmk(ctx: CheckContext) -> pd.DataFrame:
    k = ctx.frame("key")
    return k[k["kind"].eq("kms") & k["manager"].eq("CUSTOMER")]


@check("AWS006", "KMS customer key rotation disabled or too slow", stage=3, item=3,
       anti_pattern="no_rotation", severity="medium", inputs=("key",), sources=("aws",),
       thresholds=("kms_rotation_days",), controls=("key_management",),
       references=("CIS AWS 3.6", "Prowler kms_cmk_rotation_enabled",
                   "AWS Config cmk-backing-key-rotation-enabled"),
       detects="An enabled symmetric customer-managed KMS key without automatic rotation, or "
               "rotating less often than `kms_rotation_days`.",
       why="Key rotation limits how much data one key version protects (PCI DSS 3.7.4 "
           "cryptoperiods).",
       fix="`aws kms enable-key-rotation --key-id ID --rotation-period-in-days 365`.")
def kms_rotation_disabled(ctx: CheckContext) -> pd.DataFrame:
    k = _cmk(ctx)
    k = k[k["state"].fillna("Enabled").eq("Enabled") & k["spec"].fillna("SYMMETRIC_DEFAULT").eq("SYMMETRIC_DEFAULT")]
    rot = k["rotation_enabled"].astype("boolean")
    period = pd.to_numeric(k["rotation_period_days"], errors="coerce").fillna(365)
    ok = rot.fillna(False) & period.le(ctx.thresholds.kms_rotation_days)
    return emit(k, na_if(rot.isna(), ok), resource=k["arn"].fillna(k["id"]),
                rotation_enabled=k["rotation_enabled"], rotation_period_days=k["rotation_period_days"],
                why_unknown="KMS did not report the key's rotation status (GetKeyRotationStatus)")


@check("AWS007", "KMS key scheduled for deletion", stage=3, item=3, anti_pattern="aws_baseline",
       severity="high", inputs=("key",), sources=("aws",), controls=("key_management", "availability"),
       references=("AWS Config kms-cmk-not-scheduled-for-deletion",
                   "Steampipe kms_cmk_not_scheduled_for_deletion"),
       detects="A customer-managed key in PendingDeletion.",
       why="Data (and secrets) encrypted under it become unrecoverable when the window ends.",
       fix="`aws kms cancel-key-deletion --key-id ID` unless every ciphertext is known to be gone.")
def kms_pending_deletion(ctx: CheckContext) -> pd.DataFrame:
    k = _cmk(ctx)
    return emit(k, na_if(k["state"].isna(), k["state"].ne("PendingDeletion")),
                resource=k["arn"].fillna(k["id"]), state=k["state"],
                why_unknown="KMS did not report the key's state (DescribeKey)")


def _keys(ctx: CheckContext) -> pd.DataFrame:
    a = ctx.frame("access_key")
    return a[a["active"].astype(bool)]


@check("AWS008", "IAM access key older than {access_key_max_days} days", stage=3, item=3, anti_pattern="never_rotating",
       severity="high", inputs=("access_key",), sources=("aws",), thresholds=("access_key_max_days",),
       controls=("rotation",),
       references=("CIS AWS 1.14", "AWS Config access-keys-rotated", "Prowler iam_rotate_access_key_90_days"),
       detects="An active IAM access key created more than `access_key_max_days` ago.",
       why="Static cloud keys are the most common leaked credential; age is exposure.",
       fix="Replace with a role (workload identity / OIDC); otherwise create a second key, deploy, "
           "deactivate and delete the old one.")
def iam_access_key_old(ctx: CheckContext) -> pd.DataFrame:
    a = _keys(ctx)
    age = ctx.age_days(a["created_at"])
    return emit(a, na_if(age.isna(), age.le(ctx.thresholds.access_key_max_days)), name=a["key_id"],
                path=a["principal"], age_days=age.round(1), key_id=a["key_id"],
                why_unknown="IAM reported no creation date for this access key")


@check("AWS009", "IAM credential unused for {unused_credential_days} days", stage=1, item=2, anti_pattern="aws_baseline",
       severity="medium", inputs=("access_key",), sources=("aws",),
       thresholds=("unused_credential_days",), controls=("unused_credentials",),
       references=("CIS AWS 1.12", "AWS Config iam-user-unused-credentials-check"),
       detects="An active access key not used (or never used) for `unused_credential_days`.",
       why="Unused credentials are pure risk: nobody would notice their misuse.",
       fix="`aws iam update-access-key --status Inactive`, then delete.")
def iam_unused_credential(ctx: CheckContext) -> pd.DataFrame:
    a = _keys(ctx)
    last_use = pd.to_datetime(a["last_used_at"], utc=True)
    age = ctx.age_days(last_use.fillna(pd.to_datetime(a["created_at"], utc=True).astype(last_use.dtype)))
    return emit(a, na_if(age.isna(), age.le(ctx.thresholds.unused_credential_days)), name=a["key_id"],
                path=a["principal"], last_used_at=a["last_used_at"], days_unused=age.round(1),
                why_unknown="IAM reported neither a last use nor a creation date for this access key")


@check("AWS010", "Root account access key", stage=2, item=2, anti_pattern="long_lived_tokens",
       severity="critical", inputs=("access_key",), sources=("aws",), controls=("least_privilege",),
       references=("CIS AWS 1.4", "AWS Config iam-root-access-key-check", "Prowler iam_no_root_access_key"),
       detects="An active access key of the root user.",
       why="Root keys cannot be restricted by any policy: a leak is full account takeover.",
       fix="Delete the root access key; use roles for automation.")
def iam_root_access_key(ctx: CheckContext) -> pd.DataFrame:
    a = _keys(ctx)
    return emit(a, ~a["is_root"].astype(bool), name=a["key_id"], path=a["principal"], is_root=a["is_root"])


@check("AWS011", "IAM user with more than one active access key", stage=2, item=2,
       anti_pattern="shared_accounts", severity="low", inputs=("access_key", "principal"),
       sources=("aws",), controls=("identity",),
       references=("CIS AWS 1.13", "Prowler iam_user_two_active_access_key"),
       detects="An IAM user with two or more active keys.",
       why="Two keys outside a rotation window usually means one user is shared by several "
           "consumers.",
       fix="One identity per consumer; keep a second key only during rotation.")
def iam_user_multiple_keys(ctx: CheckContext) -> pd.DataFrame:
    p = ctx.frame("principal")
    p = p[p["kind"].eq("iam_user")]
    a = _keys(ctx)
    counts = a.groupby("principal").size()
    n = p["id"].map(counts).fillna(p["arn"].map(counts)).fillna(0).astype(int)
    return emit(p, n.le(1), path=p["arn"].fillna(p["name"]), active_keys=n)


@check("AWS012", "IAM console user without MFA", stage=2, item=2, anti_pattern="aws_baseline",
       severity="high", inputs=("principal",), sources=("aws",), controls=("mfa",),
       references=("CIS AWS 1.10", "AWS Config mfa-enabled-for-iam-console-access"),
       detects="An IAM user with a console password and no MFA device.",
       why="Seed 003: MFA/approval is required for sensitive secret access.",
       fix="Enforce MFA (or move humans to IAM Identity Center with MFA at the IdP).")
def iam_user_no_mfa(ctx: CheckContext) -> pd.DataFrame:
    p = ctx.frame("principal")
    p = p[p["kind"].eq("iam_user") & p["password_enabled"].astype("boolean").fillna(False).astype(bool)]
    mfa = p["mfa_active"].astype("boolean")
    return emit(p, na_if(mfa.isna(), mfa.fillna(False)), path=p["arn"].fillna(p["name"]), mfa_active=p["mfa_active"],
                why_unknown="the credential report has no MFA status for this user")


def _iam_rules(ctx: CheckContext) -> pd.DataFrame:
    r = ctx.frame("policy_rule")
    return r[r["source"].eq("aws") & r["effect"].eq("allow")]


def _per_policy_actions(ctx: CheckContext, mask_fn) -> tuple[pd.DataFrame, pd.Series]:
    p = ctx.frame("policy")
    p = p[p["kind"].isin(["iam_managed", "iam_inline"])]
    r = _iam_rules(ctx)
    hits = r[mask_fn(r)].groupby("policy_id")["capabilities"].agg(
        lambda x: sorted({a for lst in x for a in lst})[:20])
    found = p["id"].map(hits).map(lambda v: v if isinstance(v, list) else [])
    return p, found


@check("AWS013", "IAM policy grants full administrative access", stage=2, item=2,
       anti_pattern="wildcard", severity="critical", inputs=("policy", "policy_rule"), sources=("aws",),
       controls=("least_privilege",),
       references=("AWS Config iam-policy-no-statements-with-admin-access",
                   "Prowler iam_customer_attached_policy_no_administrative_privileges",
                   "Prowler iam_inline_policy_no_administrative_privileges",
                   "Prowler iam_aws_attached_policy_no_administrative_privileges"),
       detects='An IAM policy with an allow of Action "*" on Resource "*".',
       why="The cloud equivalent of `path \"*\"`: every secret and key in the account.",
       fix="Scope actions and resources; keep admin for break-glass roles with MFA.")
def iam_admin_policy(ctx: CheckContext) -> pd.DataFrame:
    p, found = _per_policy_actions(ctx, lambda r: r["path"].eq("*") & r["capabilities"].map(lambda c: "*" in c))
    return emit(p, list_len(found).eq(0), path=p["name"], attached_to=p["attached_to"], actions=found)


SECRET_SERVICES = ("secretsmanager", "kms", "ssm")


@check("AWS014", "IAM policy grants wildcard access to secrets services", stage=2, item=2,
       anti_pattern="wildcard", severity="high", inputs=("policy", "policy_rule"), sources=("aws",),
       controls=("least_privilege",),
       references=("Prowler iam_policy_no_full_access_to_kms", "Steampipe iam_policy_no_star_star"),
       detects="An IAM allow of `secretsmanager:*`, `kms:*` or `ssm:*` (or Get/Decrypt) on "
               "Resource \"*\".",
       why="Path-level least privilege: a service should read its own secrets by ARN, not all.",
       fix="List the secret / key / parameter ARNs (or a per-service path prefix) in Resource.")
def iam_wildcard_secrets_access(ctx: CheckContext) -> pd.DataFrame:
    def mask(r: pd.DataFrame) -> pd.Series:
        acts = r["capabilities"].map(lambda c: any(
            a.split(":")[0].lower() in SECRET_SERVICES and (a.endswith("*") or "Get" in a or "Decrypt" in a)
            for a in c))
        return r["path"].eq("*") & acts.astype(bool)

    p, found = _per_policy_actions(ctx, mask)
    return emit(p, list_len(found).eq(0), path=p["name"], attached_to=p["attached_to"], actions=found)


@check("AWS015", "OIDC-trusting role whose subject or audience admits any repository or branch", stage=4, item=4,
       anti_pattern="fm_ci", severity="critical", inputs=("principal",), sources=("aws",),
       controls=("ci", "identity"),
       references=("Prowler iam_role_cross_service_confused_deputy_prevention",
                   "Checkov CKV_AWS_358 (GitHub OIDC trust scoped to an organisation)"),
       detects="An IAM role trusting an OIDC provider (e.g. token.actions.githubusercontent.com) "
               "whose trust admits any subject: no `sub` condition, or a `StringLike` pattern that "
               "admits any organisation's repositories (`*`, `repo:*`, `repo:*/*`, `repo:org*`) or "
               "every repository of an organisation on any branch or environment (`repo:org/*`, "
               "`repo:org/*:*`); for GitHub also no `aud` condition or an audience other than "
               "`sts.amazonaws.com`. One repository (`repo:org/app:*`), or an organisation pinned "
               "to a branch or environment (`repo:org/*:ref:refs/heads/main`), is scoped.",
       why="Without a scoped `sub` any repository of the provider (or of the organisation, on any "
           "branch a contributor can push) can assume the role: CI federation without a trust boundary.",
       fix="Add `StringLike: {\"token.actions.githubusercontent.com:sub\": \"repo:ORG/REPO:ref:refs/heads/main\"}` "
           "(or `repo:ORG/REPO:environment:prod`) and `StringEquals: {\"token.actions.githubusercontent.com:aud\": "
           "\"sts.amazonaws.com\"}`.")
def oidc_role_without_sub(ctx: CheckContext) -> pd.DataFrame:
    """General class: federated trust that admits every subject (missing or wildcard ``sub``,
    missing or wrong GitHub ``aud``), judged per trust statement (`checks.oidc_trust`). The
    trust document is read with the role, so the principal table's gaps cover it."""
    p = ctx.frame("principal")
    fed = p["kind"].eq("iam_role") & p["trust_principals"].map(
        lambda tp: any("oidc" in str(x) or "token.actions" in str(x) for x in tp))
    p = p[fed.astype(bool)]
    trust = ctx.frame("policy")
    trust = trust[trust["kind"].eq("trust")]
    docs = dict(zip(trust["attached_to"], trust["document"]))
    problems = [oidc_trust_problems(docs.get(arn), tp, cond)
                for arn, tp, cond in zip(p["arn"], p["trust_principals"], p["trust_conditions"])]
    found = pd.Series(problems, index=p.index, dtype=object)
    return emit(p, list_len(found).eq(0), path=p["arn"].fillna(p["name"]),
                trust_principals=p["trust_principals"], problems=found)


@check("AWS016", "SSM parameter not stored as SecureString", stage=2, item=1,
       anti_pattern="aws_baseline", severity="high", inputs=("secret",), sources=("aws",),
       controls=("encryption_at_rest",),
       references=("Steampipe ssm_parameter_encryption_enabled",),
       detects="A Parameter Store parameter of type String/StringList in the secrets inventory.",
       why="Plain parameters are readable by anyone with ssm:GetParameter and appear in console, "
           "CloudFormation and logs unencrypted.",
       fix="Recreate as `--type SecureString --key-id <cmk>`; or move to Secrets Manager.")
def ssm_parameter_plaintext(ctx: CheckContext) -> pd.DataFrame:
    s = ctx.frame("secret")
    s = s[s["kind"].eq("ssm_parameter")]
    pt = s["parameter_type"]
    return emit(s, na_if(pt.isna(), pt.eq("SecureString")), resource=s["arn"].fillna(s["id"]),
                parameter_type=pt, why_unknown="DescribeParameters reported no type for this parameter")


def _acm(ctx: CheckContext) -> pd.DataFrame:
    c = ctx.frame("certificate")
    return c[c["source"].eq("aws")]


@check("AWS017", "ACM certificate with a weak key algorithm", stage=2, item=2,
       anti_pattern="aws_baseline", severity="medium", inputs=("certificate",), sources=("aws",),
       controls=("certificates",),
       references=("AWS Config acm-certificate-rsa-check",
                   "Prowler acm_certificates_with_secure_key_algorithms"),
       detects="An ACM certificate with RSA-1024 (or smaller) keys.",
       why="Short RSA keys are within reach of factoring; PCI DSS 4.2.1 requires strong cryptography.",
       fix="Request a replacement with RSA_2048+ or EC_prime256v1 and swap it on the listener.")
def acm_weak_key(ctx: CheckContext) -> pd.DataFrame:
    c = _acm(ctx)
    alg = c["key_algorithm"].fillna("")
    weak = alg.str.contains(r"RSA[-_]?(?:512|768|1024)$", regex=True)
    return emit(c, na_if(c["key_algorithm"].isna(), ~weak), resource=c["arn"].fillna(c["id"]),
                name=c["subject"], path=c["arn"].fillna(c["id"]), key_algorithm=c["key_algorithm"],
                why_unknown="ACM reported no key algorithm for this certificate")


def _trails_by_store(ctx: CheckContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    return stores_of(ctx, "aws"), ctx.frame("trail")


@check("AWS018", "No multi-region CloudTrail logging secrets and KMS events", stage=5, item=5,
       anti_pattern="no_audit", severity="critical", inputs=("server", "trail"), sources=("aws",),
       controls=("audit",),
       references=("CIS AWS 3.1", "AWS Config multi-region-cloudtrail-enabled",
                   "Prowler cloudtrail_multi_region_enabled"),
       detects="An account with no logging, multi-region trail recording management events.",
       why="CloudTrail is the only record of GetSecretValue and kms:Decrypt calls.",
       fix="`aws cloudtrail create-trail --is-multi-region-trail` with management events, then "
           "`start-logging`.")
def cloudtrail_missing(ctx: CheckContext) -> pd.DataFrame:
    s, t = _trails_by_store(ctx)
    good = t[t["is_multi_region"].astype("boolean").fillna(False).astype(bool)
             & t["is_logging"].astype("boolean").fillna(False).astype(bool)
             & t["logs_management_events"].astype("boolean").fillna(True).astype(bool)]
    n = s["store"].map(good.groupby("store").size()).fillna(0).astype(int)
    return emit(s, n.gt(0), name=s["address"], path=s["id"], logging_multi_region_trails=n,
                trails=s["store"].map(t.groupby("store")["name"].agg(list)).map(lambda v: v if isinstance(v, list) else []))


@check("AWS019", "CloudTrail without log file validation or KMS encryption", stage=5, item=5,
       anti_pattern="aws_baseline", severity="medium", inputs=("trail",), sources=("aws",),
       controls=("audit",),
       references=("CIS AWS 3.2", "CIS AWS 3.7", "AWS Config cloud-trail-log-file-validation-enabled",
                   "AWS Config cloud-trail-encryption-enabled"),
       detects="A trail without log file integrity validation or without SSE-KMS.",
       why="Audit evidence must be tamper-evident and protected (PCI DSS 10.3, NIST AU-9).",
       fix="`aws cloudtrail update-trail --enable-log-file-validation --kms-key-id <cmk>`.")
def cloudtrail_integrity(ctx: CheckContext) -> pd.DataFrame:
    t = ctx.frame("trail")
    val = t["log_file_validation"].astype("boolean")
    kms = t["kms_key_id"].fillna("").ne("")
    return emit(t, na_if(val.isna(), val.fillna(False) & kms), path=t["name"],
                log_file_validation=t["log_file_validation"], kms_key_id=t["kms_key_id"],
                why_unknown="CloudTrail did not report whether log file validation is on for this trail")


@check("AWS020", "Secret in a Lambda or ECS environment variable", stage=4, item=1,
       anti_pattern="env_files", severity="high", inputs=("source_finding", "mount"), sources=("aws",),
       controls=("secrets_in_code",),
       references=("Prowler awslambda_function_no_secrets_in_variables",
                   "Prowler ecs_task_definitions_no_environment_secrets"),
       detects="A Lambda function or ECS task definition environment variable holding a literal "
               "secret: a known credential format, a URL carrying credentials or a token, a "
               "secret-named variable with a literal value, or a random literal (name, location and "
               "keyed fingerprint only). References (`valueFrom`, `{{resolve:...}}`, ARNs, `${...}`), "
               "plain URLs, regions and log levels are not findings. One passing row per account, "
               "region and service (Lambda, ECS) listed without any.",
       why="Environment variables are configuration: anyone with lambda:GetFunctionConfiguration or "
           "ecs:DescribeTaskDefinition reads them in clear, they are copied into every version and "
           "revision, and they never rotate with the store.",
       fix="Rotate the credential, then reference it instead: ECS `secrets: [{name, valueFrom: <Secrets "
           "Manager or SSM ARN>}]`; Lambda: read it at start-up from Secrets Manager / SSM (the "
           "Parameters and Secrets Lambda extension) and pass only the ARN in the environment.")
def compute_environment_secret(ctx: CheckContext) -> pd.DataFrame:
    """General class: secrets written into compute configuration rather than referenced
    (`checks.aws_exposure_checks.definition_secrets`, over the Lambda and ECS listings)."""
    return definition_secrets(ctx, ("lambda", "ecs"), "Lambda and ECS environments")


__all__ = ["empty_result", "np"]
