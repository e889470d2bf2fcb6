"""Vault / OpenBao: read-only, metadata-only collection, and the assessor policy.

One module per concept, in the order a request meets them:

- `guard`: the (method, path) allow-list and the guard that refuses anything
  else before it leaves the process; mount names are literals.
- `http`: the keep-alive client every request goes through, and the one check
  that an answer has the shape its reader expects (`shape_problem`).
- `auth`: reachability, seal state, token / AppRole / JWT login.
- `mounts`: the one parser of ``sys/mounts`` and ``sys/auth`` answers.
- `hcl`: ACL policy documents, Go durations, loose scalar shapes.
- `session`: the worker pool and the calls that turn failures into gaps.
- `engines`: KV v1/v2 (SCAN or walk), transit, PKI, database.
- `collector`: `VaultCollector`, the orchestration of one store's run.
- `policy`: the assessor's ACL policy, generated from the same allow-list.
"""
