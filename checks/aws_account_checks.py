"""AWS checks: the account around the secrets. Root, password policy, direct user policies,
server certificates, Access Analyzer, EKS secrets encryption.

Root and password-policy checks have one row per account (server record): the
root user is read from the credential report, or from ``GetAccountSummary``
when the report has no root row (`collectors.aws.account`); an account where
neither was read is not_assessed with the reason, never passed.
"""

from __future__ import annotations

import json

import pandas as pd

from checks.catalog import CheckContext, because, check, emit, na_if, stores_of

NO_ROOT = "the root user was not read: the credential report had no root row and GetAccountSummary failed"


def _accounts_with_root(ctx: CheckContext) -> pd.DataFrame:
    """One row per AWS account, with its root principal's columns (NaN where root was not read)."""
    s = stores_of(ctx, "aws")
    p = ctx.frame("principal")
    root = p[p["kind"].eq("root")][["store", "account", "arn", "mfa_active", "mfa_virtual", "last_used_at",
                                    "read_from"]].drop_duplicates(["store", "account"])
    out = s.merge(root, how="left", left_on=["store", "address"], right_on=["store", "account"])
    out.index = s.index
    return out.assign(root_arn="arn:aws:iam::" + out["address"].fillna("") + ":root")


@check("AWS029", "Root user without MFA", stage=2, item=2, anti_pattern="aws_baseline", severity="critical",
       inputs=("server", "principal"), sources=("aws",), controls=("mfa", "emergency_access"),
       references=("CIS AWS 1.5", "Prowler iam_root_mfa_enabled", "AWS Config root-account-mfa-enabled"),
       detects="An account whose root user has no MFA device (credential report, else the account summary).",
       why="Root can do everything, including what no policy can restrict; a password alone guards it.",
       fix="Sign in as root and assign an MFA device (a hardware key); store the recovery path in the "
           "break-glass procedure.")
def root_without_mfa(ctx: CheckContext) -> pd.DataFrame:
    a = _accounts_with_root(ctx)
    mfa = a["mfa_active"].astype("boolean")
    return emit(a, na_if(mfa.isna(), mfa.fillna(False)), resource=a["root_arn"], name=a["address"],
                path=a["root_arn"], mfa_active=a["mfa_active"], read_from=a["read_from"],
                why_unknown=because((a["arn"].isna(), NO_ROOT),
                                    (mfa.isna(), "the root user's MFA status was not reported")))


@check("AWS030", "Root user MFA is not a hardware device", stage=2, item=2, anti_pattern="aws_baseline",
       severity="high", inputs=("server", "principal"), sources=("aws",), controls=("mfa", "emergency_access"),
       references=("CIS AWS 1.6", "Prowler iam_root_hardware_mfa_enabled",
                   "AWS Config root-account-hardware-mfa-enabled"),
       detects="An account whose root user has no MFA, or a virtual MFA device (ListVirtualMFADevices "
               "assigns one to root).",
       why="A virtual MFA seed lives on a phone or laptop that can be copied or lost; root deserves a "
           "hardware key kept under the break-glass procedure.",
       fix="Replace root's virtual MFA device with a FIDO security key or hardware TOTP token.")
def root_mfa_not_hardware(ctx: CheckContext) -> pd.DataFrame:
    a = _accounts_with_root(ctx)
    mfa = a["mfa_active"].astype("boolean")
    virtual = a["mfa_virtual"].astype("boolean")
    unknown = mfa.isna() | (mfa.fillna(False) & virtual.isna())
    ok = mfa.fillna(False) & ~virtual.fillna(True)
    return emit(a, na_if(unknown, ok), resource=a["root_arn"], name=a["address"], path=a["root_arn"],
                mfa_active=a["mfa_active"], mfa_virtual=a["mfa_virtual"],
                why_unknown=because((a["arn"].isna(), NO_ROOT),
                                    (mfa.isna(), "the root user's MFA status was not reported"),
                                    (virtual.isna(), "the virtual MFA devices could not be listed")))


@check("AWS031", "Root user used in the last {root_use_days} days", stage=2, item=2, anti_pattern="aws_baseline",
       severity="medium", inputs=("server", "principal"), sources=("aws",), thresholds=("root_use_days",),
       controls=("emergency_access", "monitoring"),
       references=("CIS AWS 1.7", "Prowler iam_avoid_root_usage"),
       detects="An account whose root user signed in or used an access key within `root_use_days` "
               "(credential report). Without the report's root row its use is unknown: not_assessed.",
       why="Root is for the few tasks only it can do; routine use means its credentials are exercised, "
           "shared or automated, and every use bypasses least privilege.",
       fix="Find who used root (CloudTrail `userIdentity.type = Root`), move that work to a role, and "
           "keep root behind the break-glass procedure.")
def root_recently_used(ctx: CheckContext) -> pd.DataFrame:
    a = _accounts_with_root(ctx)
    from_report = a["read_from"].eq("credential_report")
    age = ctx.age_days(a["last_used_at"])
    ok = age.isna() | age.gt(ctx.thresholds.root_use_days)  # never used (in the report) passes
    return emit(a, na_if(~from_report.fillna(False).astype(bool), ok), resource=a["root_arn"], name=a["address"],
                path=a["root_arn"], last_used_at=a["last_used_at"], days_since_use=age.round(1),
                why_unknown=because((a["arn"].isna(), NO_ROOT),
                                    (~from_report.fillna(False).astype(bool),
                                     "the credential report has no root row, so root's last use is unknown")))


def _password_policies(ctx: CheckContext) -> pd.DataFrame:
    """One row per AWS account with its password-policy settings (dict; None where not read)."""
    s = stores_of(ctx, "aws")
    p = ctx.frame("policy")
    p = p[p["kind"].eq("password_policy") & p["document"].notna()]
    settings = dict(zip(zip(p["store"], p["attached_to"]), p["document"].map(json.loads)))
    got = pd.Series([settings.get((st, i)) for st, i in zip(s["store"], s["id"])], index=s.index, dtype=object)
    return s.assign(settings=got)


def _setting(pol: pd.DataFrame, key: str) -> pd.Series:
    return pd.to_numeric(pol["settings"].map(lambda d: d.get(key) if isinstance(d, dict) else None),
                         errors="coerce")


NO_POLICY = "the account password policy could not be read (iam:GetAccountPasswordPolicy)"


@check("AWS032", "Password policy allows passwords shorter than {password_min_length} characters", stage=2,
       item=2, anti_pattern="aws_baseline", severity="medium", inputs=("server", "policy"), sources=("aws",),
       thresholds=("password_min_length",), controls=("identity",),
       references=("CIS AWS 1.8", "Prowler iam_password_policy_minimum_length_14",
                   "AWS Config iam-password-policy"),
       detects="An account whose IAM password policy requires fewer than `password_min_length` characters, "
               "or has no policy (AWS's default is 8).",
       why="Console passwords of IAM users guard everything their policies allow; length is what resists "
           "guessing and cracking.",
       fix="`aws iam update-account-password-policy --minimum-password-length 14` (keep the other settings).")
def password_policy_length(ctx: CheckContext) -> pd.DataFrame:
    pol = _password_policies(ctx)
    n = _setting(pol, "MinimumPasswordLength").fillna(8)  # AWS's default without a policy
    return emit(pol, na_if(pol["settings"].isna(), n.ge(ctx.thresholds.password_min_length)),
                resource=pol["id"] + ":password-policy", name=pol["address"], path=pol["id"],
                minimum_length=n.where(pol["settings"].notna()), why_unknown=NO_POLICY)


@check("AWS033", "Password policy remembers fewer than {password_reuse_prevention} passwords", stage=2, item=2,
       anti_pattern="aws_baseline", severity="low", inputs=("server", "policy"), sources=("aws",),
       thresholds=("password_reuse_prevention",), controls=("identity",),
       references=("CIS AWS 1.9", "Prowler iam_password_policy_reuse_24", "AWS Config iam-password-policy"),
       detects="An account whose IAM password policy prevents reuse of fewer than `password_reuse_prevention` "
               "previous passwords, or has no policy.",
       why="Without reuse prevention a forced change goes back to the leaked password.",
       fix="`aws iam update-account-password-policy --password-reuse-prevention 24`.")
def password_policy_reuse(ctx: CheckContext) -> pd.DataFrame:
    pol = _password_policies(ctx)
    n = _setting(pol, "PasswordReusePrevention").fillna(0)
    return emit(pol, na_if(pol["settings"].isna(), n.ge(ctx.thresholds.password_reuse_prevention)),
                resource=pol["id"] + ":password-reuse", name=pol["address"], path=pol["id"],
                reuse_prevention=n.where(pol["settings"].notna()), why_unknown=NO_POLICY)


@check("AWS034", "Password policy lets passwords live longer than {password_max_age_days} days", stage=3, item=3,
       anti_pattern="never_rotating", severity="low", inputs=("server", "policy"), sources=("aws",),
       thresholds=("password_max_age_days",), controls=("rotation", "identity"),
       references=("Prowler iam_password_policy_expires_passwords_within_90_days_or_less",
                   "AWS Config iam-password-policy (MaxPasswordAge)", "PCI DSS 8.3.9"),
       detects="An account whose IAM password policy does not expire passwords within `password_max_age_days` "
               "(no expiry, or a longer one).",
       why="Where a password is the only factor (PCI DSS 8.3.9), a leaked one stays valid until it expires; "
           "with MFA on every console user, prefer MFA to forced rotation (NIST SP 800-63B) and waive this.",
       fix="`aws iam update-account-password-policy --max-password-age 90`, or enforce MFA for every console "
           "user and record a waiver.")
def password_policy_expiry(ctx: CheckContext) -> pd.DataFrame:
    pol = _password_policies(ctx)
    age = _setting(pol, "MaxPasswordAge").fillna(0)
    ok = age.gt(0) & age.le(ctx.thresholds.password_max_age_days)
    return emit(pol, na_if(pol["settings"].isna(), ok), resource=pol["id"] + ":password-expiry",
                name=pol["address"], path=pol["id"], max_password_age=age.where(pol["settings"].notna()),
                why_unknown=NO_POLICY)


@check("AWS035", "IAM user with policies attached directly", stage=2, item=2, anti_pattern="shared_accounts",
       severity="low", inputs=("principal",), sources=("aws",), controls=("least_privilege", "identity"),
       references=("CIS AWS 1.15", "Prowler iam_policy_attached_only_to_group_or_roles",
                   "AWS Config iam-user-no-policies-check"),
       detects="An IAM user with an inline or a managed policy attached to the user itself, not through a group.",
       why="Per-user grants drift apart and are missed in access reviews; a user's secrets access should "
           "follow its role or group.",
       fix="Move the permissions to a group (or a role the user assumes) and detach them from the user.")
def iam_user_direct_policies(ctx: CheckContext) -> pd.DataFrame:
    p = ctx.frame("principal")
    p = p[p["source"].eq("aws") & p["kind"].eq("iam_user")]
    pols = p["policies"].map(lambda v: list(v) if v is not None else [])
    return emit(p, pols.map(len).eq(0), path=p["arn"].fillna(p["name"]), policies=pols)


@check("AWS036", "Expired IAM server certificate still stored", stage=3, item=3, anti_pattern="aws_baseline",
       severity="medium", inputs=("certificate",), sources=("aws",), controls=("certificates",),
       references=("CIS AWS 1.19", "Prowler iam_no_expired_server_certificates_stored"),
       detects="An IAM server certificate whose expiry date has passed.",
       why="An expired certificate can still be attached to a load balancer or CloudFront by mistake, and "
           "its private key stays in IAM with nobody watching it.",
       fix="`aws iam delete-server-certificate --server-certificate-name NAME` (move live certificates to ACM).")
def iam_server_certificate_expired(ctx: CheckContext) -> pd.DataFrame:
    c = ctx.frame("certificate")
    c = c[c["source"].eq("aws") & c["type"].eq("IAM_SERVER_CERTIFICATE")]
    left = -ctx.age_days(c["not_after"])
    return emit(c, na_if(left.isna(), left.gt(0)), resource=c["arn"].fillna(c["id"]), name=c["subject"],
                path=c["arn"].fillna(c["id"]), not_after=c["not_after"], days_left=left.round(1),
                why_unknown="IAM reported no expiry date for this server certificate")


@check("AWS037", "IAM Access Analyzer not enabled in a region", stage=5, item=5, anti_pattern="aws_baseline",
       severity="medium", inputs=("cloud_resource",), sources=("aws",), controls=("monitoring", "public_access"),
       references=("CIS AWS 1.20", "Prowler accessanalyzer_enabled"),
       detects="A region read without an ACTIVE account or organization analyzer (ListAnalyzers).",
       why="Access Analyzer is what reports secrets, keys and roles shared outside the account or "
           "organization as soon as a policy allows it.",
       fix="`aws accessanalyzer create-analyzer --analyzer-name account --type ACCOUNT` in every region "
           "(or ORGANIZATION from the delegated administrator).")
def access_analyzer_disabled(ctx: CheckContext) -> pd.DataFrame:
    r = ctx.frame("cloud_resource")
    r = r[r["kind"].eq("access_analyzer")]
    on = r["enabled"].astype("boolean")
    return emit(r, na_if(on.isna(), on.fillna(False)), path=r["account"].fillna("") + "/" + r["region"].fillna(""),
                analyzers=r["name"], why_unknown="Access Analyzer did not say whether an analyzer is active")


@check("AWS038", "EKS cluster without KMS envelope encryption of Kubernetes secrets", stage=2, item=2,
       anti_pattern="aws_baseline", severity="high", inputs=("cloud_resource",), sources=("aws",),
       controls=("encryption_at_rest", "key_management"),
       references=("Prowler eks_cluster_kms_cmk_encryption_in_secrets_enabled", "AWS Config eks-secrets-encrypted"),
       detects="An EKS cluster whose encryptionConfig does not cover `secrets` with a KMS key.",
       why="Kubernetes Secrets are base64 in etcd; envelope encryption puts a KMS key (and its audit trail) "
           "between etcd access and every service credential in the cluster.",
       fix="`aws eks associate-encryption-config --cluster-name C --encryption-config "
           "'[{\"resources\":[\"secrets\"],\"provider\":{\"keyArn\":\"<cmk>\"}}]'`.")
def eks_secrets_unencrypted(ctx: CheckContext) -> pd.DataFrame:
    r = ctx.frame("cloud_resource")
    r = r[r["kind"].eq("eks_cluster")]
    enc = r["encrypted"].astype("boolean")
    return emit(r, na_if(enc.isna(), enc.fillna(False)), path=r["arn"].fillna(r["id"]), kms_key_id=r["kms_key_id"],
                why_unknown="EKS did not describe the cluster's encryption configuration")
