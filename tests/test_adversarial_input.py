"""Hostile and broken input (issue #12, items 16-19), each kept as a regression test.

Bad input gets one clear line on stderr and a non-zero exit, never a
traceback, and never a half-written snapshot, assessment or site:

- client names that are paths (``x #/../../outside``) never leave the workspace;
- impossible dates, deep nesting, alias bombs and a full disk (a file-size
  limit in a real subprocess) are one line each;
- git paths with spaces, TABs, quotes and terminal escapes are read exactly
  and printed inert;
- a kill between the two renames of a snapshot swap is repaired by the next run.

Everything runs the real CLI on real git repositories; faults are injected
in a subprocess (``RLIMIT_FSIZE``, ``os._exit`` inside the swap).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collectors.git_paths import new_path_of_binary_line, new_path_of_header
from collectors.git_scan import git_cmd, git_env
from posture.cli import main, printable
from posture.model.engagement import MAX_ENGAGEMENT_BYTES, check_client_name
from posture.model.errors import ConfigError
from posture.model.fsutil import atomic_directory, recover_directory
from posture.workspace import Workspace

Q_BEFORE, Q = "2026-Q2", "2026-Q3"  # past quarters: collecting them needs no --as-of

# Fake but realistic-looking values; the rules see them, no output may show them.
ENV_VALUE = "Zq8vLx2mPw9rTt4K"
OLD_VALUE = "Hk3nVb7cXs1qWe5R"
KEY_BLOCK = ("-----BEGIN RSA PRIVATE KEY-----\n"
             "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2Bv3Nq8Hq0mX2kR1pZx0T5uV\n"
             "-----END RSA PRIVATE KEY-----\n")

# Runs `posture ARGS...` with an optional file-size limit (writes past it fail with
# EFBIG, as on a full disk) or a kill between the snapshot swap's two renames.
RUNNER = r"""
import os, resource, signal, sys
limit, kill_in_swap, args = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
if limit != "-":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), hard))
if kill_in_swap:
    real_replace = os.replace
    def replace(src, dst):
        real_replace(src, dst)
        if ".old-" in os.fspath(dst):
            os._exit(9)  # the old directory is aside, the new one not yet in place
    os.replace = replace
from posture.cli import main
sys.exit(main(args))
"""


def posture(root: Path, *args: str, fsize_limit: int | None = None, kill_in_swap: bool = False,
            timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    env.update(POSTURE_HOME=str(root), PYTHONDONTWRITEBYTECODE="1", COLUMNS="250")
    limit = "-" if fsize_limit is None else str(fsize_limit)
    return subprocess.run(
        [sys.executable, "-c", RUNNER, limit, "1" if kill_in_swap else "0", *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )


def one_line_error(stderr: str) -> str:
    """The single error line of ``stderr`` (progress output aside); fails on a traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def commit_files(repo: Path, files: dict[str, bytes | str], delete: tuple[str, ...] = (),
                 message: str = "change") -> None:
    """Write ``files`` (any byte in their names), remove ``delete``, and commit it all."""
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        git(repo, "init", "-q", "-b", "main")
    for name, body in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body.encode() if isinstance(body, str) else body)
    for name in delete:
        (repo / name).unlink()
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q",
        "--allow-empty", "-m", message)


def git_workspace(root: Path, repo: Path) -> Workspace:
    path = root / "engagements" / "acme" / "engagement.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"client: acme\nstores:\n  git:\n    - {{name: app, url: {json.dumps(str(repo))}}}\n")
    return Workspace.resolve("acme", root)


def tree_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def leftovers(folder: Path) -> list[str]:
    """Staged or set-aside copies an atomic swap left behind."""
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


# --- 16: a client name is a name ---------------------------------------------------------------

HOSTILE_NAMES = ["x #/../../../outside", "../outside", "a/b", "..", "a..b", ".hidden",
                 "x: y", "x\x1b[31m", "Acme", "", "a" * 64]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_init_refuses_a_name_that_is_not_a_name(workspace: Path, capsys, name: str):
    outside = workspace.parent / "outside"
    assert main(["init", name]) == 2
    assert main(["init", name, "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "not a client name" in err and "Traceback" not in err
    assert "\x1b" not in err  # the refused name is echoed inert
    assert tree_files(workspace) == [] and not outside.exists()


def test_init_force_never_overwrites_outside_the_workspace(tmp_path: Path, monkeypatch, capsys):
    root = tmp_path / "ws"
    root.mkdir()
    victim = tmp_path / "tmp" / "outside" / "engagement.yaml"
    victim.parent.mkdir(parents=True)
    victim.write_text("someone else's file\n")
    monkeypatch.setenv("POSTURE_HOME", str(root))
    assert main(["init", "x #/../../../tmp/outside", "--force"]) == 2
    assert victim.read_text() == "someone else's file\n"
    assert tree_files(root) == []
    assert main(["init", "acme"]) == 0 and (root / "engagements/acme/engagement.yaml").is_file()


@pytest.mark.parametrize("command", [["collect"], ["assess"], ["publish"], ["verify"],
                                     ["diff", "{name}", Q_BEFORE, Q], ["export-site", "{name}", "out"]])
def test_every_command_refuses_a_path_as_a_client(workspace: Path, capsys, command: list[str]):
    name = "../../outside"
    args = [a.format(name=name) for a in command] if len(command) > 1 else [command[0], name]
    assert main(args) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "not a client name" in line
    assert tree_files(workspace) == []


@pytest.mark.parametrize("client", ["'x #/../../outside'", "../outside", "'a/b'", "Acme"])
def test_engagement_file_client_is_validated_the_same_way(tmp_path: Path, capsys, client: str):
    p = tmp_path / "engagement.yaml"
    p.write_text(f"description: d\nclient: {client}\n")
    assert main(["collect", str(p)]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith(f"error: {p}:2: client: ") and "not a client name" in line
    assert sorted(x.name for x in tmp_path.iterdir()) == ["engagement.yaml"]
    with pytest.raises(ConfigError):
        check_client_name(client.strip("'"))


# --- 17: one line, never a traceback, never a hang --------------------------------------------


@pytest.mark.parametrize("section, body, field", [
    ("waivers", "  - check: VLT001\n    reason: r\n    approver: a\n    expires: 2026-02-30\n",
     "waivers[0].expires"),
    ("attestations", "  - item: leak_playbook\n    evidence: e\n    owner: o\n    date: 2026-13-01\n",
     "attestations[0].date"),
])
def test_an_impossible_date_names_file_line_and_field(tmp_path: Path, capsys, section, body, field):
    p = tmp_path / "engagement.yaml"
    p.write_text(f"client: acme\n{section}:\n{body}")
    assert main(["collect", str(p)]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith(f"error: {p}:6: {field}: "), line


@pytest.mark.parametrize("text, line, says", [
    ("client: acme\ndescription: " + "[" * 5000 + "]" * 5000 + "\n", 2, "nested deeper than"),
    ("client: acme\nstores:\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(1, 60)), 34, "nested deeper than"),
    ("client: acme\nloop: &a [*a]\n", 2, "recursive alias"),
    ("client: acme\ndescription: \x00\n", 2, "special characters"),
    ("client: acme\nthresholds: {x: " + "9" * 5000 + "}\n", 2, "digits"),
    ("client: acme\nclient: other\n", 2, "duplicate key"),
])
def test_malformed_yaml_is_one_line_with_its_line(tmp_path: Path, capsys, text, line, says):
    p = tmp_path / "engagement.yaml"
    p.write_text(text)
    assert main(["collect", str(p)]) == 2
    err = one_line_error(capsys.readouterr().err)
    assert err.startswith(f"error: {p}:{line}: ") and says in err, err


def test_an_oversized_engagement_file_is_refused_unread(tmp_path: Path, capsys):
    p = tmp_path / "engagement.yaml"
    p.write_text("client: acme\n#" + "x" * MAX_ENGAGEMENT_BYTES + "\n")
    assert main(["collect", str(p)]) == 2
    assert one_line_error(capsys.readouterr().err).startswith(f"error: {p}:1: larger than")


def alias_bomb(levels: int = 9) -> str:
    """Each anchor holds nine aliases of the one before: about 4e8 nodes once expanded."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_at_once(tmp_path: Path):
    """Refused from the event stream, before any object is built (it used to run for minutes)."""
    p = tmp_path / "engagement.yaml"
    p.write_text("client: acme\n" + alias_bomb())
    started = time.monotonic()
    proc = posture(tmp_path, "collect", str(p), timeout=30)
    assert time.monotonic() - started < 30
    assert proc.returncode == 2
    line = one_line_error(proc.stderr)
    assert line.startswith(f"error: {p}:") and "alias" in line


def test_alias_bomb_in_a_scanned_repository_does_not_stall_collect(tmp_path: Path):
    """The same bomb as a chart's values.yaml and a compose file: collect still finishes."""
    repo = tmp_path / "repo"
    commit_files(repo, {"chart/Chart.yaml": "name: x\n", "chart/values.yaml": alias_bomb(),
                        "docker-compose.yml": alias_bomb(), "prod.env": f"DB_PASSWORD={ENV_VALUE}\n"})
    ws = git_workspace(tmp_path / "ws", repo)
    proc = posture(ws.root, "collect", "acme", "-q", Q, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = (ws.snapshot_dir(Q) / "source_finding.jsonl").read_text()
    assert "prod.env" in rows  # the rest of the repository was still read


def test_anchors_and_merge_keys_of_a_normal_size_still_load(tmp_path: Path):
    p = tmp_path / "engagement.yaml"
    p.write_text("client: acme\nclassification:\n  owners:\n"
                 "    - &rule {match: ['*pay*'], owner: payments}\n"
                 "    - {<<: *rule, owner: billing}\n")
    ws = Workspace.resolve(str(p), tmp_path)
    owners = ws.load().engagement.classification.owners
    assert [(o.match, o.owner) for o in owners] == [(["*pay*"], "payments"), (["*pay*"], "billing")]


@pytest.fixture
def collected(tmp_path: Path) -> Workspace:
    """A real git store collected and assessed once (the state a later run must not damage)."""
    repo = tmp_path / "repo"
    commit_files(repo, {"app.py": "print('hi')\n", "config/.env": f"DB_PASSWORD={ENV_VALUE}\n"})
    ws = git_workspace(tmp_path / "ws", repo)
    assert posture(ws.root, "collect", "acme", "-q", Q).returncode == 0
    assert posture(ws.root, "assess", "acme", "-q", Q, "--no-notebooks").returncode == 0
    return ws


def test_disk_full_during_collect_keeps_the_previous_snapshot(collected: Workspace):
    ws = collected
    before = {p.name: p.read_bytes() for p in ws.snapshot_dir(Q).iterdir()}
    proc = posture(ws.root, "collect", "acme", "-q", Q, "--force", fsize_limit=1)
    assert proc.returncode != 0
    assert "File too large" in one_line_error(proc.stderr)
    assert {p.name: p.read_bytes() for p in ws.snapshot_dir(Q).iterdir()} == before
    assert leftovers(ws.quarter_dir(Q)) == []


def test_disk_full_during_assess_keeps_the_previous_assessment(collected: Workspace):
    ws = collected
    before = {p.name: p.read_bytes() for p in ws.assessment_dir(Q).iterdir()}
    proc = posture(ws.root, "assess", "acme", "-q", Q, "--no-notebooks", fsize_limit=1)
    assert proc.returncode != 0
    assert "File too large" in one_line_error(proc.stderr)
    assert {p.name: p.read_bytes() for p in ws.assessment_dir(Q).iterdir()} == before
    assert leftovers(ws.quarter_dir(Q)) == []


def test_disk_full_during_publish_leaves_no_half_site(tmp_path: Path):
    """A publish that cannot write fails in one line and the next one succeeds and verifies."""
    from sitekit import Q3_NOTEBOOKS, assess, build_snapshot, make_workspace

    from posture.notebooks import discover, parameters, run_notebooks
    from posture.site import published_quarters

    ws = make_workspace(tmp_path)
    build_snapshot(ws, Q)
    assess(ws, Q)
    chosen = [p for p in discover() if p.stem in Q3_NOTEBOOKS]
    run_notebooks(chosen, ws.notebooks_dir(Q), parameters(ws, Q))
    # 1 byte: even `git init` of the site fails; 200 kB: the MkDocs build does
    for limit in (1, 200_000):
        proc = posture(ws.root, "publish", "acme", "-q", Q, fsize_limit=limit)
        assert proc.returncode != 0, proc.stdout
        one_line_error(proc.stderr)
        assert published_quarters(ws) == []
    proc = posture(ws.root, "publish", "acme", "-q", Q)
    assert proc.returncode == 0, proc.stderr
    assert published_quarters(ws) == [Q]
    proc = posture(ws.root, "verify", "acme")
    assert proc.returncode == 0, proc.stderr


# --- 18: git paths read exactly, printed inert ----------------------------------------------

ESC_NAME = "evil\x1b]0;pwned\x07\x1b[31mred.env"
BIDI_NAME = "rtl\u202egnp.env"


def test_git_header_paths_match_the_tree_byte_for_byte(tmp_path: Path):
    """Every name `git log -p` prints, decoded, is exactly the name `git ls-tree -z` lists."""
    repo = tmp_path / "repo"
    names = ["prod app.env", "tab\there.env", 'quote"d.env', "back\\slash.env", "new\nline.env",
             ESC_NAME, BIDI_NAME, "café.env", "trailing space .env", "a and b/c and d.bin",
             "x and b/y.bin", "plain.txt"]
    commit_files(repo, {n: (b"\x00binary" if n.endswith(".bin") else b"x\n") for n in names})
    git_dir = git(repo, "rev-parse", "--absolute-git-dir").strip()
    listed = subprocess.run(git_cmd(git_dir, "ls-tree", "-r", "-z", "--name-only", "HEAD"),
                            capture_output=True, check=True, env=git_env()).stdout
    expected = {p.decode() for p in listed.split(b"\0") if p}
    assert expected == set(names)
    log = subprocess.run(git_cmd(git_dir, "log", "-p", "--src-prefix=a/", "--dst-prefix=b/",
                                 "--no-color", "--format=%x01%H"),
                         capture_output=True, check=True, env=git_env()).stdout
    seen = set()
    for line in log.splitlines(keepends=True):
        if line.startswith(b"+++ "):
            seen.add(new_path_of_header(line))
        elif line.startswith(b"Binary files "):
            seen.add(new_path_of_binary_line(line))
    assert seen == expected
    assert new_path_of_header(b"+++ /dev/null\n") is None
    assert new_path_of_binary_line(b"Binary files a/x and b/y.bin and /dev/null differ\n") is None
    assert new_path_of_binary_line(b"Binary files a/old.bin and b/new one.bin differ\n") == "new one.bin"


def test_names_with_spaces_tabs_and_escapes_keep_their_rules(tmp_path: Path, monkeypatch, capsys):
    """A space no longer hides an env file; a history path has no trailing TAB."""
    repo = tmp_path / "repo"
    commit_files(repo, {"prod app.env": f"DB_PASSWORD={ENV_VALUE}\n",
                        "old creds.env": f"DB_PASSWORD={OLD_VALUE}\n",
                        "keys/deploy key.pem": KEY_BLOCK, ESC_NAME: "x\n"}, message="add")
    commit_files(repo, {}, delete=("old creds.env", "keys/deploy key.pem"), message="remove")
    ws = git_workspace(tmp_path / "ws", repo)
    monkeypatch.setenv("POSTURE_HOME", str(ws.root))
    assert main(["collect", "acme", "-q", Q]) == 0
    capsys.readouterr()
    rows = [json.loads(line) for line in (ws.snapshot_dir(Q) / "source_finding.jsonl").read_text().splitlines()]
    found = {(r["path"], r["detector"], r["in_tree"]) for r in rows}
    assert {("prod app.env", "env-file", True), ("prod app.env", "env-literal", True),
            ("old creds.env", "env-file", False), ("old creds.env", "env-literal", False),
            ("keys/deploy key.pem", "private-key-file", False),
            (ESC_NAME, "env-file", True)} <= found, found
    for r in rows:
        for path in [r["path"], *(r.get("paths") or [])]:
            assert not path.endswith("\t") and '"' not in path, r["id"]
    literal = next(r for r in rows if r["path"] == "prod app.env" and r["detector"] == "env-literal")
    assert literal["paths"] == ["prod app.env"]  # the tree and history spell it the same
    raw = b"".join(p.read_bytes() for p in ws.snapshot_dir(Q).iterdir())
    assert ENV_VALUE.encode() not in raw and OLD_VALUE.encode() not in raw


def test_diff_and_tables_print_no_control_characters(tmp_path: Path):
    """Escape sequences and bidi overrides in file names reach the terminal as visible escapes."""
    repo = tmp_path / "repo"
    held = f"DB_PASSWORD={ENV_VALUE}\n"  # env files holding a credential: SRC003 names them
    commit_files(repo, {ESC_NAME: held, BIDI_NAME: held, "a.py": "pass\n"})
    ws = git_workspace(tmp_path / "ws", repo)
    for q in (Q_BEFORE, Q):
        if q == Q:
            commit_files(repo, {}, delete=(BIDI_NAME,))  # resolved in the later quarter
        assert posture(ws.root, "collect", "acme", "-q", q).returncode == 0
        proc = posture(ws.root, "assess", "acme", "-q", q, "--no-notebooks")
        assert proc.returncode == 0, proc.stderr
        assert "\x1b" not in proc.stdout + proc.stderr and "\u202e" not in proc.stdout + proc.stderr
    proc = posture(ws.root, "diff", "acme", Q_BEFORE, Q)
    assert proc.returncode == 0, proc.stderr
    assert "evil\\x1b]0;pwned\\x07\\x1b[31mred.env" in proc.stdout
    assert "rtl\\u202egnp.env" in proc.stdout
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\u202e" not in proc.stdout
    as_json = posture(ws.root, "diff", "acme", Q_BEFORE, Q, "--json")
    assert "\x1b" not in as_json.stdout  # JSON escapes it, and keeps the name exact:
    resources = {r["resource"] for rows in json.loads(as_json.stdout).values() for r in rows}
    assert any(ESC_NAME in r for r in resources) and any(BIDI_NAME in r for r in resources)


def test_printable_shows_every_control_character():
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("csi\x9b31m") == "csi\\x9b31m"
    assert printable("two\nlines\r") == "two\\x0alines\\x0d"
    assert printable("abc\u202edef\u2066") == "abc\\u202edef\\u2066"
    assert printable("café ✓ tab\tend") == "café ✓ tab\\x09end"
    assert printable(None) == ""


# --- 19: a kill inside the snapshot swap is repaired ----------------------------------------


@pytest.mark.parametrize("next_command, code", [
    (["assess", "acme", "-q", Q, "--no-notebooks"], 0),
    (["collect", "acme", "-q", Q], 1),  # restored, then kept: replacing it needs --force
])
def test_kill_between_the_swap_renames_is_recovered_by_the_next_run(collected: Workspace,
                                                                   next_command, code):
    ws = collected
    snap = ws.quarter_dir(Q) / "snapshot"
    before = (snap / "manifest.json").read_bytes()
    proc = posture(ws.root, "collect", "acme", "-q", Q, "--force", kill_in_swap=True)
    assert proc.returncode == 9, proc.stderr
    assert not snap.exists(), "the kill did not land between the two renames"
    assert [n for n in leftovers(ws.quarter_dir(Q)) if ".snapshot.old-" in n]
    proc = posture(ws.root, *next_command)
    assert proc.returncode == code, proc.stderr
    if code:
        one_line_error(proc.stderr)
    assert (snap / "manifest.json").read_bytes() == before  # the previous snapshot, unchanged
    assert leftovers(ws.quarter_dir(Q)) == []


def test_recovery_never_undoes_a_swap_that_is_still_running(tmp_path: Path):
    dest = tmp_path / "snapshot"
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        aside = tmp_path / f".snapshot.old-{writer.pid}"
        staged = tmp_path / f".snapshot.tmp-{writer.pid}-abc"
        aside.mkdir()
        (aside / "manifest.json").write_text("{}")
        staged.mkdir()
        recover_directory(dest)
        assert not dest.exists() and aside.exists() and staged.exists()
    finally:
        writer.kill()
        writer.wait()
    recover_directory(dest)
    assert (dest / "manifest.json").read_text() == "{}"
    assert leftovers(tmp_path) == []


def test_recovery_spares_this_process_own_swap_but_not_its_leftovers(tmp_path: Path):
    dest = tmp_path / "snapshot"
    with atomic_directory(dest) as staged:
        (staged / "manifest.json").write_text("new")
        recover_directory(dest)  # e.g. a Workspace path looked up while writing
        assert staged.is_dir()
    assert (dest / "manifest.json").read_text() == "new"
    # left by a killed earlier run that had this PID (a container's PID 1, run again)
    os.replace(dest, tmp_path / f".snapshot.old-{os.getpid()}")
    recover_directory(dest)
    assert (dest / "manifest.json").read_text() == "new" and leftovers(tmp_path) == []
