"""Every place a secret hides in an AWS account, seeded into moto, with the ground truth.

`seed_exposure` plants, for each place the AWS collector scans (EC2 user data
and launch templates, CodeBuild, Batch, Step Functions, API Gateway, Elastic
Beanstalk, Glue, SageMaker, CloudFormation, SSM documents, Lambda, ECS) and
for the account around them (password policy, direct user policies, server
certificates, EKS), one real problem and one clean look-alike: a reference
instead of a value, a secret-named variable holding a host name, a digest
that looks random. The returned `Planted` rows say which is which and which
kit and Prowler checks speak for that place, so tests and the benchmark's
parity table judge both tools against the same truth.

Secret values are the caller's canaries plus a few credential-format values
(`FORMAT_VALUES`, fake but well-formed): none may ever reach an output.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from posture.demo.estates.aws import ACCOUNT, _clients, _policy, _self_signed, _zip

#: Well-formed but fake credentials, recognised by format rather than by name.
FORMAT_VALUES = {
    "aws_key": "AKIA" + "Q7NORTHWINDX5EX2",
    "stripe": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
}


@dataclass(frozen=True)
class Planted:
    """One seeded item: a real problem (``problem``) or a clean look-alike, and who should report it."""

    key: str
    place: str
    match: str  # a substring of the resource id/ARN both tools report it under
    problem: bool
    ours: tuple[str, ...]  # kit checks that speak for this place
    prowler: tuple[str, ...]  # Prowler checks that speak for this place
    note: str = ""
    prowler_match: str | None = None  # where Prowler reports it, if not ``match`` ("" : any row of its checks)

    @property
    def listing(self) -> str | None:
        """The service listing whose per-region row speaks for this item in the kit's secrets checks."""
        return LISTINGS.get(self.key.removesuffix("-clean").split("-")[0])


#: Planted key prefix -> the service listing (``Mount``) the kit's secrets checks pass or gap a region by.
LISTINGS = {"ec2": "ec2", "launch": "ec2", "codebuild": "codebuild", "batch": "batch",
            "stepfunctions": "stepfunctions", "apigateway": "apigateway", "beanstalk": "elasticbeanstalk",
            "glue": "glue", "sagemaker": "sagemaker", "cfn": "cloudformation", "ssm": "ssm-documents"}


@dataclass
class ExposureEstate:
    account: str
    planted: list[Planted] = field(default_factory=list)
    values: list[str] = field(default_factory=list)  # every secret value planted

    def add(self, *items: Planted) -> None:
        self.planted.extend(items)


def _b64(text: str, compress: bool = False) -> str:
    raw = text.encode()
    return base64.b64encode(gzip.compress(raw) if compress else raw).decode()


def seed_exposure(endpoint_url: str | None, canaries: Sequence[str], region: str = "us-east-1") -> ExposureEstate:
    """Seed the places and the account settings; return the ground truth."""
    est = ExposureEstate(account=ACCOUNT)
    secret = canaries[1 % len(canaries)]
    other = canaries[3 % len(canaries)]
    est.values += [secret, other, *FORMAT_VALUES.values()]
    c = _clients(endpoint_url, region)
    role = c.iam.create_role(RoleName="exposure-workloads", AssumeRolePolicyDocument=_policy(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}))["Role"]["Arn"]
    secret_arn = f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:prod/orders/db-password-AbCdEf"

    # --- EC2 user data and launch templates -----------------------------------------------
    ami = c.ec2.register_image(Name="northwind-base", RootDeviceName="/dev/xvda",
                               BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}])["ImageId"]

    def instance(user_data: str) -> str:
        resp = c.ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, UserData=user_data)
        return resp["Instances"][0]["InstanceId"]

    i_plain = instance(f"#!/bin/bash\nexport DB_PASSWORD='{secret}'\nsystemctl start orders\n")
    # run_instances base64-encodes UserData itself; a gzip payload goes in as the raw compressed text
    i_gzip = c.ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, UserData=gzip.compress(
        f"#!/bin/bash\nSTRIPE_KEY={FORMAT_VALUES['stripe']}\n".encode()))["Instances"][0]["InstanceId"]
    i_clean = instance("#!/bin/bash\nexport DB_HOST=orders-db.internal\n"
                       "DB_PASSWORD=$(aws secretsmanager get-secret-value --secret-id prod/orders/db "
                       "--query SecretString --output text)\n"
                       "IMAGE=123456789012.dkr.ecr.us-east-1.amazonaws.com/orders@sha256:"
                       "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n")
    lt = c.ec2.create_launch_template(LaunchTemplateName="orders-api", LaunchTemplateData={
        "UserData": _b64(f"#!/bin/bash\nexport API_TOKEN={secret}\n")})["LaunchTemplate"]["LaunchTemplateId"]
    c.ec2.create_launch_template_version(LaunchTemplateId=lt, LaunchTemplateData={
        "UserData": _b64("#!/bin/bash\nexport API_TOKEN_PATH=/run/secrets/api-token\n")})
    lt_clean = c.ec2.create_launch_template(LaunchTemplateName="orders-web", LaunchTemplateData={
        "UserData": _b64("#!/bin/bash\nexport LOG_LEVEL=info\n")})["LaunchTemplate"]["LaunchTemplateId"]
    ec2_ours, ec2_prowler = ("AWS021",), ("ec2_instance_secrets_user_data", "ec2_launch_template_no_secrets")
    est.add(Planted("ec2-user-data", "EC2 user data: secret-named variable", i_plain, True, ec2_ours, ec2_prowler),
            Planted("ec2-user-data-gzip", "EC2 user data, gzip: Stripe key", i_gzip, True, ec2_ours, ec2_prowler),
            Planted("ec2-user-data-clean", "EC2 user data: reference, host, digest", i_clean, False, ec2_ours,
                    ec2_prowler),
            Planted("launch-template-old-version", "launch template: secret in an old version", lt, True,
                    ec2_ours, ec2_prowler),
            Planted("launch-template-clean", "launch template: log level only", lt_clean, False, ec2_ours,
                    ec2_prowler))

    # --- CodeBuild ------------------------------------------------------------------------
    def project(name: str, variables: list[dict[str, str]], source: dict[str, str]) -> None:
        c.codebuild.create_project(name=name, source=source, artifacts={"type": "NO_ARTIFACTS"}, serviceRole=role,
                                   environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                                                "computeType": "BUILD_GENERAL1_SMALL",
                                                "environmentVariables": variables})

    project("build-legacy", [{"name": "DB_PASSWORD", "value": secret, "type": "PLAINTEXT"}],
            {"type": "BITBUCKET", "location": f"https://deploy:{other}@bitbucket.org/northwind/legacy.git"})
    project("build-github", [{"name": "LOG_LEVEL", "value": "debug", "type": "PLAINTEXT"}],
            {"type": "GITHUB", "location": f"https://x-access-token:{other}@github.com/northwind/api.git"})
    project("build-clean", [{"name": "DB_PASSWORD", "value": "/prod/orders/db-password", "type": "PARAMETER_STORE"},
                            {"name": "DB_HOST", "value": "orders-db.internal", "type": "PLAINTEXT"}],
            {"type": "GITHUB", "location": "https://github.com/northwind/api.git"})
    env_p, src_p = ("codebuild_project_no_secrets_in_variables",), (
        "codebuild_project_source_repo_url_no_sensitive_credentials",)
    est.add(Planted("codebuild-env", "CodeBuild plaintext variable", "project/build-legacy", True, ("AWS022",), env_p),
            Planted("codebuild-env-clean", "CodeBuild: Parameter Store reference, host", "project/build-clean", False,
                    ("AWS022",), env_p),
            Planted("codebuild-source-bitbucket", "CodeBuild source URL (Bitbucket) with credentials",
                    "project/build-legacy", True, ("AWS023",), src_p),
            Planted("codebuild-source-github", "CodeBuild source URL (GitHub) with a token", "project/build-github",
                    True, ("AWS023",), src_p),
            Planted("codebuild-source-clean", "CodeBuild source URL without credentials", "project/build-clean",
                    False, ("AWS023",), src_p))

    # --- Batch, Step Functions, API Gateway, Beanstalk, Glue, SageMaker --------------------------
    def job_definition(name: str, environment: list[dict[str, str]], secrets: list[dict[str, str]]) -> None:
        c.batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties={
            "image": "northwind/etl:1", "vcpus": 1, "memory": 512, "environment": environment, "secrets": secrets})

    job_definition("etl-legacy", [{"name": "DB_PASSWORD", "value": secret}], [])
    job_definition("etl-clean", [{"name": "DB_HOST", "value": "orders-db.internal"}],
                   [{"name": "DB_PASSWORD", "valueFrom": secret_arn}])
    sfn = c.stepfunctions

    def machine(name: str, env: list[dict[str, str]]) -> None:
        sfn.create_state_machine(name=name, roleArn=role, definition=json.dumps({
            "StartAt": "Run", "States": {"Run": {
                "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True,
                "Parameters": {"Cluster": "orders", "TaskDefinition": "orders-job",
                               "Overrides": {"ContainerOverrides": [{"Name": "job", "Environment": env}]}}}}}))

    machine("orders-flow", [{"Name": "API_TOKEN", "Value": secret}])
    machine("clean-orders-flow", [{"Name": "API_TOKEN_SECRET_ARN", "Value": secret_arn}])
    ag = c.apigateway

    def rest_api(name: str, variables: dict[str, str]) -> str:
        api = ag.create_rest_api(name=name)["id"]
        root = ag.get_resources(restApiId=api)["items"][0]["id"]
        ag.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
        ag.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
        ag.create_deployment(restApiId=api, stageName="prod", variables=variables)
        return api

    api = rest_api("orders-api", {"backendApiKey": secret, "backendUrl": "https://orders.internal"})
    api_clean = rest_api("public-api", {"backendUrl": "https://orders.internal", "logLevel": "INFO"})
    c.elasticbeanstalk.create_application(ApplicationName="payments-web")
    c.elasticbeanstalk.create_environment(
        ApplicationName="payments-web", EnvironmentName="payments-web-prod",
        SolutionStackName="64bit Amazon Linux 2023 v4.0.0 running Python 3.11",
        OptionSettings=[{"Namespace": "aws:elasticbeanstalk:application:environment", "OptionName": "DB_PASSWORD",
                         "Value": secret}])
    c.glue.create_connection(ConnectionInput={"Name": "legacy-db", "ConnectionType": "JDBC", "ConnectionProperties": {
        "JDBC_CONNECTION_URL": "jdbc:mysql://orders-db.internal:3306/orders", "USERNAME": "etl", "PASSWORD": secret}})
    c.glue.create_connection(ConnectionInput={"Name": "clean-db", "ConnectionType": "JDBC", "ConnectionProperties": {
        "JDBC_CONNECTION_URL": "jdbc:mysql://orders-db.internal:3306/orders", "SECRET_ID": "prod/orders/db"}})
    c.glue.create_job(Name="etl-legacy", Role=role, Command={"Name": "glueetl", "ScriptLocation": "s3://etl/job.py"},
                      DefaultArguments={"--db_password": secret, "--TempDir": "s3://etl/tmp/"})
    c.glue.create_job(Name="etl-clean", Role=role, Command={"Name": "glueetl", "ScriptLocation": "s3://etl/job.py"},
                      DefaultArguments={"--db_secret_id": "prod/orders/db", "--TempDir": "s3://etl/tmp/"})
    sm = c.sagemaker
    sm.create_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName="research-setup", OnStart=[
        {"Content": _b64(f"#!/bin/bash\nexport HF_TOKEN={secret}\n")}])
    sm.create_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName="clean-setup", OnStart=[
        {"Content": _b64("#!/bin/bash\nexport HF_TOKEN_SECRET_ID=research/hf-token\n")}])
    sm.create_notebook_instance(NotebookInstanceName="research", InstanceType="ml.t3.medium", RoleArn=role,
                                LifecycleConfigName="research-setup")
    sm.create_notebook_instance(NotebookInstanceName="clean-research", InstanceType="ml.t3.medium", RoleArn=role,
                                LifecycleConfigName="clean-setup")
    wl = ("AWS024",)
    est.add(
        Planted("batch", "Batch job definition environment", "job-definition/etl-legacy", True, wl,
                ("batch_job_definition_no_secrets",)),
        Planted("batch-clean", "Batch: secrets valueFrom, host", "job-definition/etl-clean", False, wl,
                ("batch_job_definition_no_secrets",)),
        Planted("stepfunctions", "Step Functions definition", "stateMachine:orders-flow", True, wl,
                ("stepfunctions_statemachine_no_secrets_in_definition",)),
        Planted("stepfunctions-clean", "Step Functions: secret ARN", "stateMachine:clean-orders-flow", False, wl,
                ("stepfunctions_statemachine_no_secrets_in_definition",)),
        Planted("apigateway", "API Gateway stage variable", f"/restapis/{api}", True, wl,
                ("apigateway_restapi_no_secrets_in_stage_variables",)),
        Planted("apigateway-clean", "API Gateway: URL and log level", f"/restapis/{api_clean}", False, wl,
                ("apigateway_restapi_no_secrets_in_stage_variables",)),
        Planted("beanstalk", "Elastic Beanstalk option setting", "payments-web-prod", True, wl,
                ("elasticbeanstalk_environment_no_secrets_in_configuration",),
                "moto has no DescribeConfigurationSettings: a coverage gap for both tools"),
        Planted("glue-connection", "Glue connection password", "connection/legacy-db", True, wl,
                ("glue_catalog_connection_no_secrets",)),
        Planted("glue-connection-clean", "Glue connection with SECRET_ID", "connection/clean-db", False, wl,
                ("glue_catalog_connection_no_secrets",)),
        Planted("glue-job", "Glue job argument", "job/etl-legacy", True, wl,
                ("glue_etl_jobs_no_secrets_in_arguments",)),
        Planted("glue-job-clean", "Glue job: secret id, temp dir", "job/etl-clean", False, wl,
                ("glue_etl_jobs_no_secrets_in_arguments",)),
        Planted("sagemaker", "SageMaker lifecycle script", "research-setup", True, wl,
                ("sagemaker_notebook_instance_no_secrets",), "Prowler reports it on the notebook instance",
                prowler_match="notebook-instance/research"),
        Planted("sagemaker-clean", "SageMaker lifecycle: secret name", "clean-setup", False, wl,
                ("sagemaker_notebook_instance_no_secrets",), prowler_match="notebook-instance/clean-research"),
    )

    # --- CloudFormation and SSM documents ------------------------------------------------------
    def stack(name: str, params: dict[str, str], outs: dict[str, str]) -> None:
        tpl = {"Parameters": {k: {"Type": "String", "Default": v} for k, v in params.items()},
               "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
               "Outputs": {k: {"Value": v} for k, v in outs.items()}}
        c.cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(tpl))

    stack("orders-legacy", {"DbPassword": secret}, {"AdminPassword": other, "LegacyKey": FORMAT_VALUES["aws_key"]})
    stack("orders-clean", {"DbHost": "orders-db.internal"},
          {"ApiUrl": "https://orders.northwind.example/v1", "DbSecretArn": secret_arn,
           "UserPoolClientId": "3n4b5kq7v2m9x8c1z6l0p4r7t2"})
    cfn = ("cloudformation_stack_outputs_find_secrets",)
    est.add(Planted("cfn-output-named", "stack output named AdminPassword", "stack/orders-legacy", True,
                    ("AWS025",), cfn, "the key names the secret, the value is a plain word"),
            Planted("cfn-clean", "stack outputs: URL, secret ARN, client id", "stack/orders-clean", False,
                    ("AWS025",), cfn))

    def document(name: str, content: dict[str, Any], public: bool) -> None:
        c.ssm.create_document(Name=name, DocumentType="Command", Content=json.dumps(content))
        if public:
            c.ssm.modify_document_permission(Name=name, PermissionType="Share", AccountIdsToAdd=["all"])

    document("deploy-legacy", {"schemaVersion": "2.2", "parameters": {"dbPassword": {"type": "String",
                                                                                      "default": secret}},
                               "mainSteps": [{"action": "aws:runShellScript", "name": "deploy", "inputs": {
                                   "runCommand": [f"export API_TOKEN={other}", "systemctl restart orders"]}}]},
             public=True)
    document("deploy-clean", {"schemaVersion": "2.2", "mainSteps": [{"action": "aws:runShellScript", "name": "deploy",
                                                                     "inputs": {"runCommand": [
                                                                         "export API_TOKEN={{ssm-secure:/prod/token}}",
                                                                         "systemctl restart orders"]}}]},
             public=False)
    est.add(Planted("ssm-document", "SSM document content and default", "document/deploy-legacy", True, ("AWS026",),
                    ("ssm_document_secrets",)),
            Planted("ssm-document-clean", "SSM document with an ssm-secure reference", "document/deploy-clean", False,
                    ("AWS026",), ("ssm_document_secrets",)),
            Planted("ssm-document-public", "SSM document shared with all accounts", "document/deploy-legacy", True,
                    ("AWS027",), ("ssm_documents_set_as_public",)),
            Planted("ssm-document-private", "SSM document not shared", "document/deploy-clean", False, ("AWS027",),
                    ("ssm_documents_set_as_public",)))

    # --- Lambda and ECS (scored by AWS020) -----------------------------------------------------------
    key = c.kms.create_key(Description="lambda environment")["KeyMetadata"]["Arn"]
    fn = getattr(c, "lambda")
    fn.create_function(FunctionName="orders-legacy", Runtime="python3.12", Role=role, Handler="handler.handler",
                       Code={"ZipFile": _zip()}, Environment={"Variables": {"DB_PASSWORD": secret}})
    fn.create_function(FunctionName="orders-clean", Runtime="python3.12", Role=role, Handler="handler.handler",
                       Code={"ZipFile": _zip()}, KMSKeyArn=key,
                       Environment={"Variables": {"DB_SECRET_ARN": secret_arn, "LOG_LEVEL": "info"}})
    c.ecs.register_task_definition(family="orders-legacy", containerDefinitions=[{
        "name": "api", "image": "northwind/orders:1", "memory": 512,
        "environment": [{"name": "STRIPE_API_KEY", "value": FORMAT_VALUES["stripe"]}]}])
    c.ecs.register_task_definition(family="orders-clean", containerDefinitions=[{
        "name": "api", "image": "northwind/orders:1", "memory": 512,
        "secrets": [{"name": "STRIPE_API_KEY", "valueFrom": secret_arn}]}])
    lam, ecs = ("awslambda_function_no_secrets_in_variables",), ("ecs_task_definitions_no_environment_secrets",)
    cmk = ("awslambda_function_env_vars_not_encrypted_with_cmk",)
    est.add(Planted("lambda-env", "Lambda environment variable", "function:orders-legacy", True, ("AWS020",), lam),
            Planted("lambda-env-clean", "Lambda: secret ARN, log level", "function:orders-clean", False, ("AWS020",),
                    lam),
            Planted("lambda-cmk", "Lambda environment without a customer key", "function:orders-legacy", True,
                    ("AWS028",), cmk),
            Planted("lambda-cmk-clean", "Lambda environment under a customer key", "function:orders-clean", False,
                    ("AWS028",), cmk),
            Planted("ecs-env", "ECS container environment", "task-definition/orders-legacy", True, ("AWS020",), ecs),
            Planted("ecs-env-clean", "ECS: secrets valueFrom", "task-definition/orders-clean", False, ("AWS020",), ecs))

    # --- The account: password policy, users, server certificates, EKS ---------------------------------
    iam = c.iam
    iam.update_account_password_policy(MinimumPasswordLength=8, PasswordReusePrevention=3, MaxPasswordAge=365)
    iam.create_group(GroupName="operators")
    iam.put_group_policy(GroupName="operators", PolicyName="read", PolicyDocument=_policy(
        {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}))
    iam.create_user(UserName="svc-direct")
    iam.put_user_policy(UserName="svc-direct", PolicyName="direct", PolicyDocument=_policy(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::orders/*"}))
    iam.create_user(UserName="grouped-operator")
    iam.add_user_to_group(GroupName="operators", UserName="grouped-operator")
    now = datetime.now(UTC)
    for name, start, end in (("legacy-tls", now - timedelta(days=800), now - timedelta(days=30)),
                             ("current-tls", now - timedelta(days=30), now + timedelta(days=300))):
        pem, key_pem = _self_signed(f"{name}.northwind.example", start, end)
        iam.upload_server_certificate(ServerCertificateName=name, CertificateBody=pem.decode(),
                                      PrivateKey=key_pem.decode())
    pw = "iam_password_policy_"
    est.add(Planted("password-length", "password policy: 8 characters", f"{ACCOUNT}:password-policy", True,
                    ("AWS032",), (pw + "minimum_length_14",), prowler_match=""),
            Planted("password-reuse", "password policy: 3 remembered", f"{ACCOUNT}:password-reuse", True,
                    ("AWS033",), (pw + "reuse_24",), prowler_match=""),
            Planted("password-expiry", "password policy: 365-day expiry", f"{ACCOUNT}:password-expiry", True,
                    ("AWS034",), (pw + "expires_passwords_within_90_days_or_less",), prowler_match=""),
            Planted("user-direct-policy", "IAM user with an inline policy", "user/svc-direct", True, ("AWS035",),
                    ("iam_policy_attached_only_to_group_or_roles",)),
            Planted("user-group-policy", "IAM user with group policies only", "user/grouped-operator", False,
                    ("AWS035",), ("iam_policy_attached_only_to_group_or_roles",)),
            Planted("server-cert-expired", "expired IAM server certificate", "server-certificate/legacy-tls", True,
                    ("AWS036",), ("iam_no_expired_server_certificates_stored",)),
            Planted("server-cert-current", "valid IAM server certificate", "server-certificate/current-tls", False,
                    ("AWS036",), ("iam_no_expired_server_certificates_stored",),
                    "moto lists every server certificate as expired in 2012; the kit reads the certificate's "
                    "own notAfter"),
            Planted("root-mfa", "root user without MFA (moto's root)", f"{ACCOUNT}:root", True, ("AWS029",),
                    ("iam_root_mfa_enabled",), "moto's credential report has no root row", prowler_match=""),
            Planted("root-hardware-mfa", "root user without hardware MFA", f"{ACCOUNT}:root", True, ("AWS030",),
                    ("iam_root_hardware_mfa_enabled",), prowler_match=""))
    for name, encryption in (("legacy-cluster", []), ("secure-cluster", [
            {"resources": ["secrets"], "provider": {"keyArn": key}}])):
        c.eks.create_cluster(name=name, roleArn=role, resourcesVpcConfig={"subnetIds": []},
                             **({"encryptionConfig": encryption} if encryption else {}))
    eks = ("eks_cluster_kms_cmk_encryption_in_secrets_enabled",)
    est.add(Planted("eks-unencrypted", "EKS cluster without secrets encryption", "cluster/legacy-cluster", True,
                    ("AWS038",), eks, "moto answers encryptionConfig: [] where AWS leaves it out"),
            Planted("eks-encrypted", "EKS cluster with secrets encryption", "cluster/secure-cluster", False,
                    ("AWS038",), eks))
    return est
