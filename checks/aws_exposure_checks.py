"""AWS checks: every place a secret hides in an account's definitions and published outputs.

Secrets the collector found in EC2 user data and launch templates, CodeBuild
projects, Batch, Step Functions, API Gateway, Elastic Beanstalk, Glue and
SageMaker definitions, CloudFormation stack outputs and SSM documents
(`collectors.aws.scanning`: name, location, detector and keyed fingerprint,
never the value); and the settings around them: SSM documents shared with
every account, Lambda environments without a customer key.

Each secrets check fails one row per finding and passes one row per account,
region and service that was listed without any, so a region read clean is
said, and a region not read is a coverage gap, never silence.
"""

from __future__ import annotations

import pandas as pd

from checks.catalog import CheckContext, check, emit, empty_result

#: Where the collector found it (``SourceFinding.refs[0]``) -> the service whose listing covers it.
PLACES: dict[str, str] = {
    "lambda": "lambda", "ecs": "ecs",  # environment variables (AWS020)
    "ec2_user_data": "ec2", "launch_template": "ec2",
    "codebuild_env": "codebuild", "codebuild_source": "codebuild",
    "batch_job_definition": "batch", "step_functions": "stepfunctions", "apigateway_stage": "apigateway",
    "beanstalk_option": "elasticbeanstalk", "glue_connection": "glue", "glue_job": "glue",
    "sagemaker_lifecycle": "sagemaker",
    "cloudformation_output": "cloudformation", "ssm_document": "ssm-documents",
}

REFERENCES_NOT_VALUES = ("Reference the secret instead of writing it: Secrets Manager or SSM SecureString ARNs, "
                         "`{{resolve:secretsmanager:...}}` dynamic references, or a role that fetches it at run time.")


def definition_secrets(ctx: CheckContext, places: tuple[str, ...], what: str) -> pd.DataFrame:
    """Fail per finding in ``places``; pass per (account, region, service) listed without one.

    General class: secrets written into a resource's definition, judged at
    collection by `posture.model.secretlike`. The pass rows come from the
    listing `Mount` each service writes (``account/region/service``), so a
    service-scoped coverage gap turns exactly its pass row into not_assessed.
    """
    f = ctx.frame("source_finding")
    place = f["refs"].map(lambda r: r[0] if len(r) else None)
    f = f[f["source"].eq("aws") & place.isin(places)]
    where = f["refs"].map(lambda r: r[1] if len(r) > 1 else None)
    parts = []
    if len(f):
        parts.append(emit(f, False, name=f["variable"].fillna(f["path"]), path=f["path"],
                          place=f["refs"].map(lambda r: r[0]), account_region=where, variable=f["variable"],
                          line=f["line"], detector=f["detector"], public_prefix=f["public_prefix"],
                          fingerprint=f["fingerprint"]))
    services = {PLACES[p] for p in places}
    m = ctx.frame("mount")
    m = m[m["source"].eq("aws") & m["type"].isin(services)]
    if len(m):
        dirty = {(st, f"{w}/{PLACES[p]}") for st, w, p in zip(f["store"], where, f["refs"].map(lambda r: r[0]))}
        clean = m[[(st, path) not in dirty for st, path in zip(m["store"], m["path"])]]
        parts.append(emit(clean, True, resource=clean["id"] + ":secrets", name=what + " in " + clean["path"],
                          path=clean["path"], listing=clean["description"].fillna("complete")))
    return pd.concat(parts, ignore_index=True) if parts else empty_result()


@check("AWS021", "Secret in EC2 instance user data or a launch template", stage=4, item=1,
       anti_pattern="images", severity="high", inputs=("source_finding", "mount"), sources=("aws",),
       controls=("secrets_in_code",),
       references=("Prowler ec2_instance_secrets_user_data", "Prowler ec2_launch_template_no_secrets"),
       detects="A literal secret in an instance's user data or in any version of a launch template (base64, "
               "gzip and cloud-init MIME archives decoded in memory): a credential format, a URL with "
               "credentials, a PEM private key, or a secret-named shell/YAML assignment or flag with a "
               "literal value. References (`$(aws secretsmanager ...)`, `${VAR}`, ARNs), image digests "
               "and checksums are not findings.",
       why="User data is readable by anyone with ec2:DescribeInstanceAttribute and from the instance "
           "metadata service by every process on the instance; old launch template versions keep what "
           "they held.",
       fix="Rotate the credential; fetch it at boot with the instance role (`aws secretsmanager "
           "get-secret-value`) and delete the launch template versions that hold it.")
def ec2_user_data_secret(ctx: CheckContext) -> pd.DataFrame:
    return definition_secrets(ctx, ("ec2_user_data", "launch_template"), "EC2 user data and launch templates")


@check("AWS022", "Secret in a CodeBuild project's plaintext environment or inline buildspec", stage=4, item=4,
       anti_pattern="ci_env", severity="high", inputs=("source_finding", "mount"), sources=("aws",),
       controls=("ci", "secrets_in_code"),
       references=("Prowler codebuild_project_no_secrets_in_variables",
                   "AWS Config codebuild-project-envvar-awscred-check"),
       detects="A CodeBuild environment variable of type PLAINTEXT holding a literal secret (any credential, "
               "not only AWS keys), or a secret written into an inline buildspec. PARAMETER_STORE and "
               "SECRETS_MANAGER variables are references, the good pattern.",
       why="Plaintext variables are shown to anyone with codebuild:BatchGetProjects and in the console, "
           "and are copied into every build's environment and logs.",
       fix="Change the variable's type to SECRETS_MANAGER or PARAMETER_STORE with the secret's name; "
           "rotate the exposed value.")
def codebuild_plaintext_secret(ctx: CheckContext) -> pd.DataFrame:
    return definition_secrets(ctx, ("codebuild_env",), "CodeBuild projects")


@check("AWS023", "CodeBuild source URL carries a credential", stage=4, item=4, anti_pattern="ci_env",
       severity="high", inputs=("source_finding", "mount"), sources=("aws",), controls=("ci", "secrets_in_code"),
       references=("Prowler codebuild_project_source_repo_url_no_sensitive_credentials",
                   "AWS Config codebuild-project-source-repo-url-check"),
       detects="A CodeBuild primary or secondary source location with a credential in it, for any host: "
               "`https://user:password@`, a token as the user part (`https://ghp_...@github.com`), or a "
               "token query parameter. A plain repository URL is not a finding.",
       why="The repository token gives read (often write) access to the source; it is shown with the "
           "project's metadata and never rotates with the token store.",
       fix="Connect the source provider with a CodeBuild source credential or CodeConnections and use the "
           "plain repository URL; revoke the token.")
def codebuild_source_credential(ctx: CheckContext) -> pd.DataFrame:
    return definition_secrets(ctx, ("codebuild_source",), "CodeBuild source URLs")


@check("AWS024", "Secret in a Batch, Step Functions, API Gateway, Beanstalk, Glue or SageMaker definition",
       stage=4, item=1, anti_pattern="env_files", severity="high", inputs=("source_finding", "mount"),
       sources=("aws",), controls=("secrets_in_code",),
       references=("Prowler batch_job_definition_no_secrets",
                   "Prowler stepfunctions_statemachine_no_secrets_in_definition",
                   "Prowler apigateway_restapi_no_secrets_in_stage_variables",
                   "Prowler elasticbeanstalk_environment_no_secrets_in_configuration",
                   "Prowler glue_catalog_connection_no_secrets", "Prowler glue_etl_jobs_no_secrets_in_arguments",
                   "Prowler sagemaker_notebook_instance_no_secrets"),
       detects="A literal secret in a Batch job definition's container environment or parameters, a Step "
               "Functions state machine definition, an API Gateway REST API stage variable, an Elastic "
               "Beanstalk option setting (environment properties, `aws:rds:dbinstance` passwords), a Glue "
               "connection property or job argument, or a SageMaker notebook lifecycle script.",
       why="Each is configuration readable by whoever may describe it, copied into every revision, and "
           "never rotated with the secret store.",
       fix=REFERENCES_NOT_VALUES + " Glue: `SECRET_ID` in the connection; Batch: `secrets` with `valueFrom`.")
def workload_definition_secret(ctx: CheckContext) -> pd.DataFrame:
    return definition_secrets(ctx, ("batch_job_definition", "step_functions", "apigateway_stage",
                                    "beanstalk_option", "glue_connection", "glue_job", "sagemaker_lifecycle"),
                              "workload definitions")


@check("AWS025", "Secret in a CloudFormation stack output or parameter", stage=2, item=1,
       anti_pattern="hardcoded", severity="high", inputs=("source_finding", "mount"), sources=("aws",),
       controls=("secrets_in_code",),
       references=("Prowler cloudformation_stack_outputs_find_secrets",),
       detects="A stack output or (non-NoEcho) parameter whose key and value together say it is a secret: a "
               "credential format, a URL with credentials, or a secret-named key (`AdminPassword`) with a "
               "literal value. Identifiers, ARNs and URLs are not findings.",
       why="Outputs and parameters are shown to anyone with cloudformation:DescribeStacks, exported outputs "
           "flow into other stacks, and they stay in the stack's history.",
       fix="Output the secret's ARN, not its value; make secret parameters NoEcho or `{{resolve:...}}` "
           "dynamic references; rotate the value.")
def cloudformation_output_secret(ctx: CheckContext) -> pd.DataFrame:
    return definition_secrets(ctx, ("cloudformation_output",), "CloudFormation stacks")


@check("AWS026", "Secret in an SSM document", stage=2, item=1, anti_pattern="hardcoded", severity="high",
       inputs=("source_finding", "mount"), sources=("aws",), controls=("secrets_in_code",),
       references=("Prowler ssm_document_secrets",),
       detects="A literal secret in an SSM document the account owns: in a parameter's default value or in "
               "its content (commands, scripts). `{{ssm:...}}` and `{{ssm-secure:...}}` references are not.",
       why="Documents are read by everyone allowed ssm:GetDocument and run on every targeted instance; a "
           "shared document hands the secret to other accounts.",
       fix="Pass the secret as a `{{ssm-secure:/path}}` parameter reference; rotate it.")
def ssm_document_secret(ctx: CheckContext) -> pd.DataFrame:
    return definition_secrets(ctx, ("ssm_document",), "SSM documents")


@check("AWS027", "SSM document shared with every AWS account", stage=2, item=2, anti_pattern="aws_baseline",
       severity="high", inputs=("cloud_resource",), sources=("aws",), controls=("public_access",),
       references=("Prowler ssm_documents_set_as_public", "AWS Config ssm-document-not-public"),
       detects="An SSM document of the account whose share permission includes `all` (public).",
       why="Every AWS account can read and run a public document: its commands, defaults and anything "
           "written into it.",
       fix="`aws ssm modify-document-permission --name DOC --permission-type Share --account-ids-to-remove all`; "
           "share with named accounts if needed, and block public sharing account-wide.")
def ssm_document_public(ctx: CheckContext) -> pd.DataFrame:
    r = ctx.frame("cloud_resource")
    r = r[r["kind"].eq("ssm_document")]
    public = r["shared_with"].map(lambda v: "all" in list(v) if v is not None else False)
    return emit(r, ~public.astype(bool), path=r["arn"].fillna(r["id"]), shared_with=r["shared_with"])


@check("AWS028", "Lambda environment variables not encrypted with a customer KMS key", stage=2, item=2,
       anti_pattern="aws_baseline", severity="low", inputs=("cloud_resource",), sources=("aws",),
       controls=("encryption_at_rest", "key_management"),
       references=("Prowler awslambda_function_env_vars_not_encrypted_with_cmk", "Checkov CKV_AWS_173",
                   "AWS Config remediation AWSConfigRemediation-EncryptLambdaEnvironmentVariablesWithCMK"),
       detects="A Lambda function with environment variables and no customer-managed KMS key (`KMSKeyArn`).",
       why="With the AWS-managed key, whoever may read the function's configuration reads its environment; "
           "a customer key adds a separately granted kms:Decrypt (and its CloudTrail record).",
       fix="`aws lambda update-function-configuration --function-name FN --kms-key-arn <cmk>`; better, keep "
           "no secret in the environment at all.")
def lambda_environment_without_cmk(ctx: CheckContext) -> pd.DataFrame:
    r = ctx.frame("cloud_resource")
    r = r[r["kind"].eq("lambda_function") & r["has_environment"].astype("boolean").fillna(False).astype(bool)]
    return emit(r, r["kms_key_id"].fillna("").ne(""), path=r["arn"].fillna(r["id"]), kms_key_id=r["kms_key_id"])
