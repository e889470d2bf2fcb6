"""AWS collector: secrets stores, keys, identities and logging, every place a secret hides in an
account's definitions, and the account around them; read-only, into the snapshot.

How it reads:

- `session`: boto3's own credential chain, then assume-role with refreshable
  credentials into each engagement account, or into every account of the
  AWS Organization (``organization: true``); the regions to read.
- `guard`: every client carries the `ReadOnlyGuard`; an operation outside the
  allow-list raises before anything is sent. Values are never requested (no
  ``GetSecretValue``, no ``GetParameter``). Where AWS returns values inside a
  definition (environment variables, user data, stack outputs, documents:
  `guard.SCANNED_VALUES`, printed with ``posture policy aws``), `scanning`
  judges them in memory and keeps only the name, the location and a keyed
  fingerprint.
- `calls`: accounts x regions x services run as independent tasks on one
  bounded pool; a call that still fails after botocore's adaptive retries is a
  `CoverageGap`, never skipped. Only a store that cannot be assessed at all
  raises `CollectionError`.
- one module per service or theme: `secretsmanager`, `kms`, `iam` and
  `account` (root, password policy, server certificates), `ssm`, `acm`,
  `compute` (Lambda, ECS), `cloudtrail`, `ec2` (user data, launch templates),
  `codebuild`, `workloads` (Batch, Step Functions, API Gateway, Beanstalk,
  Glue, SageMaker), `outputs` (CloudFormation, SSM documents), `controls`
  (Access Analyzer, EKS); `documents` turns their policies into rows;
  `collector.AwsCollector` orchestrates them.

This package imports nothing at import time, so ``collectors.aws.guard`` (the
allow-list behind ``posture policy aws``) loads without the collector.
"""
