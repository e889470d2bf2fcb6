"""Audit-log collector: who accessed what, from where, when and how.

Reads, offline, the audit logs an engagement lists for a store:

- ``VaultStore.audit_logs``: Vault/OpenBao file audit device logs (paths,
  globs or folders; plain or gzip);
- ``AwsStore.cloudtrail_logs``: CloudTrail log files (paths, globs, folders,
  or ``s3://bucket/prefix`` read through the read-only guard).

It writes facts and measures only, never a judgement: ``access_event`` rows
(identity x path x operation x source x day), ``access_hour`` (human requests
per UTC hour), ``login_hour`` (login successes and failures per source x user
x hour), ``token_issue`` (credentials issued per day with their TTL),
``audit_signal`` rows for what the log shows as such (denials, root use, drift,
stale version reads, revocations, least-privilege usage, the stage-5 metrics;
meanings in `posture.model.vocabulary.AUDIT_SIGNALS`) and one ``audit_log`` row
per input with its line/malformed counts. The engagement's thresholds (volume
spike factor, failed-login burst, business hours, long-TTL hours) are applied by
the AUD checks at assess time, so a changed threshold re-judges the same snapshot.

Parsing streams line by line (bounded memory, progress by bytes); a malformed
line is counted, never fatal; an input that cannot be read is a coverage gap.
HMAC'd values stay HMAC'd and no request or response data value is kept; a
raw (``log_raw``) log's credentials are keyed with the engagement's fingerprint
on read (`collectors.audit_parse.Accumulator.keyed`).
Two audit devices of one server log the same requests under different HMAC
keys: a file whose first request ids were already seen is recorded as
``duplicate_of`` and not counted twice.
"""

from __future__ import annotations

import glob
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, BinaryIO, ClassVar

import orjson
import pandas as pd

from collectors import audit_analysis as aa
from collectors.audit_parse import (
    Accumulator,
    FileStats,
    feed_cloudtrail_event,
    iter_cloudtrail_events,
    open_maybe_gzip,
    parse_vault_stream,
)
from collectors.base import CollectContext
from posture.model.engagement import AwsStore, VaultStore
from posture.model.records import (
    AccessEvent,
    AccessHour,
    AuditLog,
    AuditSignal,
    LoginHour,
    TokenIssue,
)
from posture.model.snapshot import records_frame

AUDIT_TABLES = ["access_event", "access_hour", "login_hour", "token_issue", "audit_signal", "audit_log"]
LOG_SUFFIXES = (".log", ".json", ".jsonl", ".gz")
S3_READ_OPERATIONS = frozenset({"ListObjectsV2", "GetObject"})


@dataclass
class LogInput:
    """One input file: a display name, its size and how to open it (binary)."""

    name: str
    size: int
    open: Callable[[], BinaryIO]


class AuditLogS3Guard:
    """Read-only fence for CloudTrail buckets: ``s3:ListObjectsV2``/``GetObject`` only.

    Any other operation is handed to the AWS collector's `ReadOnlyGuard`,
    which refuses it before it is sent.
    """

    def __init__(self) -> None:
        from collectors.aws.guard import ReadOnlyGuard

        self.inner = ReadOnlyGuard()
        self.issued: list[str] = []

    def check(self, model: Any, **kw: Any) -> None:
        if model.service_model.endpoint_prefix == "s3" and model.name in S3_READ_OPERATIONS:
            self.issued.append(f"s3:{model.name}")
            return
        self.inner.check(model, **kw)

    def install(self, client: Any) -> Any:
        client.meta.events.register("before-call", self.check, unique_id="posture-audit-s3-guard")
        return client


class AuditCollector:
    """Parse a store's audit logs into access events, measures, fact signals and log counts."""

    source: ClassVar[str] = "audit"
    version: ClassVar[str] = "2.0.0"  # 2: measures (access_hour, login_hour, token_issue), no judgement

    def __init__(self, store: VaultStore | AwsStore, ctx: CollectContext) -> None:
        self.store = store
        self.ctx = ctx
        self.kind = "vault_file" if isinstance(store, VaultStore) else "cloudtrail"
        self.patterns = list(getattr(store, "audit_logs", None) or getattr(store, "cloudtrail_logs", None) or [])
        self.acc = Accumulator(fingerprint=ctx.fingerprint)
        self.s3_guard: AuditLogS3Guard | None = None

    # -- inputs -------------------------------------------------------------------

    def _gap(self, operation: str, reason: str, detail: str, scope: str = "") -> None:
        self.ctx.sink.gap(
            store=self.store.name, source="audit", tables=AUDIT_TABLES, operation=operation,
            reason=reason, scope=scope or "audit", detail=detail,
        )

    def resolve(self) -> list[LogInput]:
        """Every input file named by the store's patterns, in a stable order."""
        inputs: list[LogInput] = []
        seen: set[str] = set()
        for pattern in self.patterns:
            if pattern.startswith("s3://"):
                found = self._resolve_s3(pattern)
            else:
                found = self._resolve_local(pattern)
            if found is None:
                continue
            if not found:
                self._gap(f"read {pattern}", "not_found", "no audit log matched this pattern", scope=pattern)
            for item in found:
                if item.name not in seen:
                    seen.add(item.name)
                    inputs.append(item)
        return inputs

    def _resolve_local(self, pattern: str) -> list[LogInput]:
        expanded = os.path.expanduser(pattern)
        paths: list[str] = []
        if os.path.isdir(expanded):
            for root, _dirs, files in os.walk(expanded):
                paths += [os.path.join(root, f) for f in files if f.endswith(LOG_SUFFIXES)]
        else:
            paths = [p for p in glob.glob(expanded, recursive=True) if os.path.isfile(p)]
        out = []
        for p in sorted(paths):
            try:
                size = os.path.getsize(p)
            except OSError as e:
                self._gap(f"read {p}", "error", e.strerror or str(e), scope=p)
                continue
            out.append(LogInput(name=p, size=size, open=lambda p=p: open(p, "rb")))
        return out

    def _resolve_s3(self, url: str) -> list[LogInput] | None:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, _, prefix = url[len("s3://"):].partition("/")
        store = self.store
        session = boto3.Session(profile_name=getattr(store, "profile", None) or None)
        endpoint = getattr(store, "endpoint_url", None) or os.environ.get("AWS_ENDPOINT_URL") or None
        client = session.client("s3", endpoint_url=endpoint)
        self.s3_guard = AuditLogS3Guard()
        self.s3_guard.install(client)
        out: list[LogInput] = []
        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/") or not key.endswith(LOG_SUFFIXES):
                        continue

                    def opener(key: str = key) -> BinaryIO:
                        # CloudTrail objects are small (one delivery, a few MB at most).
                        body = client.get_object(Bucket=bucket, Key=key)["Body"]
                        return io.BufferedReader(io.BytesIO(body.read()))

                    out.append(LogInput(name=f"s3://{bucket}/{key}", size=int(obj.get("Size", 0)), open=opener))
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "error")
            reason = "denied" if "AccessDenied" in code or code == "403" else (
                "not_found" if code in ("NoSuchBucket", "404") else "error")
            self._gap(f"s3:ListObjectsV2 {url}", reason, code, scope=url)
            return None
        except BotoCoreError as e:
            self._gap(f"s3:ListObjectsV2 {url}", "unreachable", str(e), scope=url)
            return None
        return sorted(out, key=lambda i: i.name)

    # -- parsing ------------------------------------------------------------------

    def _first_ids(self, item: LogInput, limit: int = 200) -> tuple[list[str], str | None]:
        """Request/event ids and first timestamp at the head of a file (for de-duplication and order)."""
        ids: list[str] = []
        first: str | None = None
        if item.name.startswith("s3://"):
            return ids, first  # keys carry the delivery time; no second download
        try:
            with item.open() as raw:
                stream = open_maybe_gzip(item.name, raw)
                if self.kind == "cloudtrail":
                    stats = FileStats()
                    for ev in iter_cloudtrail_events(stream.read(), stats):
                        if isinstance(ev, dict) and ev.get("eventID"):
                            ids.append(ev["eventID"])
                            first = first or str(ev.get("eventTime", ""))[:19] or None
                        if len(ids) >= limit:
                            break
                    return ids, first
                for n, line in enumerate(stream):
                    if n > limit * 4 or len(ids) >= limit:
                        break
                    if b'"type":"response"' not in line[:80]:
                        continue
                    try:
                        d = orjson.loads(line)
                        ids.append(d["request"]["id"])
                        first = first or d["time"][:19]
                    except (orjson.JSONDecodeError, KeyError, TypeError):
                        continue
        except Exception:
            pass
        return ids, first

    def run(self) -> None:
        inputs = self.resolve()
        if not inputs:
            if not self.patterns:
                self._gap("read audit logs", "not_found", "the store lists no audit log")
            return  # each pattern that matched nothing is already a gap
        heads = {i.name: self._first_ids(i) for i in inputs}
        # Oldest first, so "latest version" and revocations see events in order.
        inputs.sort(key=lambda i: (heads[i.name][1] or "9999", i.name))
        progress = self.ctx.progress
        task = None
        if progress is not None:
            task = progress.add_task(f"audit {self.store.name}", total=sum(i.size for i in inputs) or 1)
        done = 0
        seen_ids: dict[str, str] = {}
        logs: list[AuditLog] = []
        for item in inputs:
            ids, _ = heads[item.name]
            duplicate_of = None
            if ids and all(i in seen_ids for i in ids):
                duplicate_of = seen_ids[ids[0]]
            stats = FileStats()
            unhashed_before = self.acc.unhashed
            if duplicate_of is None:
                for i in ids:
                    seen_ids.setdefault(i, item.name)
                ok = self._parse(item, stats, progress, task, done)
                if not ok:
                    done += item.size
                    continue
            done += item.size
            if progress is not None and task is not None:
                progress.update(task, completed=done)
            logs.append(
                AuditLog(
                    id=f"{self.store.name}:{item.name}", store=self.store.name, source="audit",
                    path=item.name, format=self.kind, lines=stats.lines, malformed=stats.malformed,
                    bytes=item.size, first_at=_dt(stats.first_at), last_at=_dt(stats.last_at),
                    events=stats.events if duplicate_of is None else None,
                    skipped=stats.skipped if duplicate_of is None else None,
                    malformed_lines=stats.malformed_lines, duplicate_of=duplicate_of,
                    unhashed_credentials=self.acc.unhashed - unhashed_before if duplicate_of is None else None,
                )
            )
        for log in logs:
            self.ctx.sink.add(log)
        self._emit(logs)

    def _parse(self, item: LogInput, stats: FileStats, progress: Any, task: Any, done: int) -> bool:
        try:
            with item.open() as raw:
                stream = open_maybe_gzip(item.name, raw)
                if self.kind == "vault_file":
                    tell = getattr(raw, "tell", None)

                    def on_bytes(_n: int) -> None:
                        if progress is not None and task is not None and tell is not None:
                            try:
                                progress.update(task, completed=done + tell())
                            except (OSError, ValueError):
                                pass

                    parse_vault_stream(stream, self.acc, stats, on_bytes=on_bytes)
                else:
                    data = stream.read()
                    stats.bytes = len(data)
                    for n, ev in enumerate(iter_cloudtrail_events(data, stats), 1):
                        if not isinstance(ev, dict):
                            stats.bad(n)
                            continue
                        feed_cloudtrail_event(ev, self.acc, stats, n)
        except (OSError, EOFError) as e:
            # A truncated gzip member ends the file: what was read so far still counts.
            if stats.lines or stats.events:
                stats.bad(stats.lines + 1)
                return True
            reason = "denied" if isinstance(e, PermissionError) else "error"
            self._gap(f"read {item.name}", reason, str(e), scope=item.name)
            return False
        except Exception as e:  # botocore streaming errors
            self._gap(f"read {item.name}", "error", type(e).__name__, scope=item.name)
            return False
        return True

    # -- analysis -> records --------------------------------------------------------

    def access_rows(self) -> list[dict[str, Any]]:
        store = self.store.name
        vault = self.kind == "vault_file"
        kv_mounts = {m for m in self.acc.kv_mounts if m} or None
        rows = []
        for (principal, method, path, op, remote, day), (count, errors, denied, first, last) in self.acc.access.items():
            if vault:
                sp = aa.vault_secret_path(path, kv_mounts)
                resource = f"vault:{store}:{sp}" if sp else None
            else:
                resource = None if path == "-" or path.endswith(".amazonaws.com") else path
            rows.append(
                {
                    "id": f"{store}:{principal}:{op}:{path}:{remote}:{day}", "store": store,
                    "source": "audit", "principal": principal, "auth_method": method, "path": path,
                    "operation": op, "remote_addr": None if remote == "-" else remote,
                    "day": f"{day}T00:00:00+00:00", "count": count, "errors": errors, "denied": denied,
                    "first_at": f"{first}+00:00", "last_at": f"{last}+00:00", "resource": resource,
                }
            )
        return rows

    def measure_rows(self) -> list[AccessHour | LoginHour | TokenIssue]:
        """The per-hour and per-day measures the AUD checks judge at assess time."""
        store, acc = self.store.name, self.acc
        base = {"store": store, "source": "audit"}
        out: list[AccessHour | LoginHour | TokenIssue] = []
        for (principal, method, path, op, remote, hour), count in acc.human_hours.items():
            out.append(AccessHour(
                id=f"{store}:{principal}:{op}:{path}:{remote}:{hour}", principal=principal, auth_method=method,
                path=path, operation=op, remote_addr=None if remote == "-" else remote,
                hour=_dt(f"{hour}:00:00"), count=count, **base))
        for (remote, mount, user, hour), (ok, failed) in acc.logins.items():
            out.append(LoginHour(
                id=f"{store}:{remote}:{mount}:{user}:{hour}", remote_addr=None if remote == "-" else remote,
                mount=mount, user=user, hour=_dt(f"{hour}:00:00"), succeeded=ok, failed=failed, **base))
        for key, (n, first, last, accessors) in acc.tokens.items():
            principal, remote, path, name, ttl, forever, policies, day = key
            out.append(TokenIssue(
                id=f"{store}:{principal}:{path}:{remote}:{name or '-'}:{ttl or '-'}:{forever}:"
                   f"{','.join(policies)}:{day}",
                principal=principal, remote_addr=None if remote == "-" else remote, path=path,
                display_name=name, ttl_seconds=ttl, non_expiring=forever, policies=list(policies),
                day=_dt(f"{day}T00:00:00"), count=n, first_at=_dt(first), last_at=_dt(last),
                accessor_hmacs=accessors, **base))
        return out

    def _frames(self) -> dict[str, pd.DataFrame]:
        acc = self.acc
        logins = pd.DataFrame(
            [(*k[:3], k[3], v[0], v[1]) for k, v in acc.logins.items()],
            columns=["remote_addr", "mount", "user", "hour", "ok", "failed"],
        )
        logins["hour"] = pd.to_datetime(logins["hour"] + ":00:00", utc=True, format="ISO8601")
        root = pd.DataFrame(
            [(k[0], k[1], k[2], v[0], v[1], v[2], v[3]) for k, v in acc.root_use.items()],
            columns=["principal", "remote_addr", "day", "count", "first_at", "last_at", "paths"],
        )
        stale = pd.DataFrame(
            [(k[0], k[1], *v) for k, v in acc.stale.items()],
            columns=["principal", "path", "count", "first_at", "last_at", "version_read",
                     "current_version", "rotated_at", "remote_addr"],
        )
        version_reads = pd.DataFrame(
            [(*k, *v) for k, v in acc.version_reads.items()],
            columns=["principal", "path", "version", "count", "first_at", "last_at", "remote_addr"],
        )
        usage = pd.DataFrame(
            [(*k, v) for k, v in acc.usage.items()], columns=["policy", "path", "operation", "count"]
        )
        changes = pd.DataFrame(
            acc.changes, columns=["at", "kind", "principal", "remote", "path", "operation", "succeeded"]
        )
        changes["at"] = pd.to_datetime(changes["at"], utc=True, format="ISO8601")
        rotations = pd.DataFrame(acc.rotations, columns=["at", "path", "principal", "version"])
        rotations["at"] = pd.to_datetime(rotations["at"], utc=True, format="ISO8601")
        revs = pd.DataFrame(
            acc.revocations,
            columns=["at", "credential", "kind", "principal", "remote", "last_use_before_at",
                     "attempts_after", "last_attempt_at", "successes_after", "last_success_after_at"],
        )
        return dict(logins=logins, root=root, stale=stale, version_reads=version_reads, usage=usage,
                    changes=changes, rotations=rotations, revocations=revs)

    def signals(self, access: pd.DataFrame) -> pd.DataFrame:
        """The fact signals and metrics of this store's logs, as one frame (`SIGNAL_COLUMNS`).

        No threshold here: the judged anomalies are the AUD checks' (`checks.audit_signals`).
        """
        f = self._frames()
        parts = [
            aa.denied_requests(access),
            aa.root_token_use(f["root"]),
            aa.drift(f["changes"]),
            aa.stale_version_reads(f["stale"]),
            aa.kv_version_reads(f["version_reads"]),
            aa.revocations(f["revocations"]),
            aa.vault_policy_usage(f["usage"]) if self.kind == "vault_file" else aa.aws_principal_usage(access),
            aa.failed_auth_around_rotations(f["logins"], f["rotations"]),
            aa.fetch_error_rate(access),
        ]
        parts = [p for p in parts if not p.empty]
        return pd.concat(parts, ignore_index=True) if parts else aa.empty_signals()

    def _emit(self, logs: list[AuditLog]) -> None:
        rows = self.access_rows()
        sink = self.ctx.sink
        for r in rows:
            sink.add(AccessEvent.model_validate(r))
        for m in self.measure_rows():
            sink.add(m)
        access = records_frame("access_event", rows)
        signals = self.signals(access)
        ats = [r.at if isinstance(r.at, datetime) else None for r in signals.itertuples(index=False)]
        remotes = [None if r in (None, "-") else r for r in signals["remote_addr"]]
        ids = AuditSignal.unique_ids(
            self.store.name, zip(signals["signal"], signals["principal"], signals["path"], remotes, ats))
        for r, id_, at, remote in zip(signals.itertuples(index=False), ids, ats, remotes):
            detail = dict(r.detail) if isinstance(r.detail, dict) else {}
            if self.acc.dropped and r.signal.startswith("metric:"):
                detail["events_dropped_over_cap"] = self.acc.dropped
            sink.add(
                AuditSignal(
                    id=id_, store=self.store.name, source="audit", signal=r.signal, principal=r.principal,
                    path=r.path, remote_addr=remote, at=at,
                    count=None if pd.isna(r.count) else int(r.count), detail=_jsonable(detail),
                )
            )


def _dt(ts: str | None) -> datetime | None:
    return datetime.fromisoformat(ts).replace(tzinfo=timezone.utc) if ts else None


def _jsonable(value: Any) -> Any:
    """Plain JSON types (numpy scalars and timestamps out)."""
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=str))
