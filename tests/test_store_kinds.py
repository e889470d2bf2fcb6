"""Every store kind of the engagement: names unique across kinds, collection order, missing SDK extras."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from collectors.base import EXTRAS, REGISTRY, collector_class
from posture.cli import main
from posture.model.engagement import STORE_KINDS, Stores, load_engagement
from posture.model.errors import ConfigError
from posture.model.records import Source
from posture.model.vocabulary import ITEM_SOURCES

ALL_KINDS = """\
client: acme
stores:
  vault: [{name: core, address: "http://127.0.0.1:1"}]
  git: [{name: repo, url: /nonexistent}]
  azure: [{name: kv, subscriptions: [00000000-0000-0000-0000-000000000000]}]
  gcp: [{name: sm, projects: [acme-prod]}]
  kubernetes: [{name: k8s}]
  inventory: [{name: declared, path: declared.csv}]
"""


def test_every_store_kind_has_a_collector_a_source_and_a_list():
    assert set(STORE_KINDS) <= set(REGISTRY)
    assert set(STORE_KINDS) <= set(Source.__args__)
    assert set(ITEM_SOURCES) <= set(STORE_KINDS)
    assert [k for k, _ in Stores().by_source()] == list(STORE_KINDS)


def test_store_names_are_unique_across_every_kind(tmp_path: Path):
    p = tmp_path / "engagement.yaml"
    p.write_text(ALL_KINDS)
    assert [s.name for s in load_engagement(p).engagement.stores.all()] == \
        ["core", "repo", "kv", "sm", "k8s", "declared"]
    p.write_text(ALL_KINDS.replace("name: sm", "name: kv"))
    with pytest.raises(ConfigError, match="'kv' is used twice"):
        load_engagement(p)


@pytest.mark.parametrize("source", sorted(EXTRAS))
def test_a_missing_sdk_names_its_extra(source, monkeypatch):
    """An SDK that is not installed is one line naming the pip extra, not a traceback."""
    for name in [m for m in sys.modules if m.startswith(f"collectors.{source}")]:
        monkeypatch.delitem(sys.modules, name)
    sdk = {"azure": "azure", "gcp": "google", "kubernetes": "kubernetes"}[source]
    for name in [m for m in sys.modules if m == sdk or m.startswith(sdk + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, sdk, None)  # import of it now fails as if not installed
    with pytest.raises(ConfigError, match=rf"-m pip install 'secrets-posture-kit\[{EXTRAS[source]}\]'"):
        collector_class(source)


@pytest.mark.parametrize("source, part", [("azure", "azure.keyvault.secrets"), ("gcp", "google.cloud.kms_v1")])
def test_a_partly_installed_sdk_is_refused_before_collection(source, part, monkeypatch):
    """A client package imported only when used is checked up front, not met mid-collection."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == part else real(name, *a))
    with pytest.raises(ConfigError, match=rf"needs '{part}', which is not installed: .* -m pip install"):
        collector_class(source)


def test_collect_refuses_a_missing_extra_before_contacting_any_store(tmp_path: Path, monkeypatch, capsys):
    """The Vault store listed first is on a closed port: reaching it would exit 3, not 2."""
    for name in [m for m in sys.modules if m.startswith("collectors.kubernetes") or m == "kubernetes"
                 or m.startswith("kubernetes.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    p = tmp_path / "engagement.yaml"
    p.write_text("client: acme\nstores:\n  vault: [{name: core, address: 'http://127.0.0.1:1'}]\n"
                 "  kubernetes: [{name: k8s}]\n")
    monkeypatch.setenv("POSTURE_HOME", str(tmp_path))
    assert main(["collect", str(p)]) == 2
    err = capsys.readouterr().err
    assert "secrets-posture-kit[kubernetes]" in err and "Traceback" not in err
    assert not list(tmp_path.glob("evidence/*/*/snapshot"))


@pytest.mark.parametrize("source, kind, table, own, foreign", [
    ("azure", "azure_keyvault_secret", "secret", "az keyvault secret", ("bao ", "aws ", "gcloud", "kubectl")),
    ("gcp", "gcp_secret", "secret", "gcloud secrets versions", ("bao ", "aws ", "az ", "kubectl")),
    ("kubernetes", "kubernetes_secret", "secret", "kubectl -n prod", ("bao ", "aws ", "az ", "gcloud")),
    ("azure", "certificate", "certificate", "az keyvault certificate", ("bao ", "aws ", "gcloud")),
    ("inventory", "declared", "secret", "every copy", ("bao ", "aws ", "az ", "gcloud", "kubectl")),
    ("somewhere", "unknown-kind", "secret", "at the provider", ("bao ", "aws ", "az ", "gcloud", "kubectl")),
])
def test_containment_step_names_the_items_own_store(source, kind, table, own, foreign):
    """General class: a leak card's first step and a rotation plan's revocation path use the item's
    own store's command; a kind the kit has no command for gets a store-neutral step, never another
    store's CLI (a Vault `bao kv put` on an Azure secret would be wrong advice)."""
    from checks.views import revoke_first

    row = {"table": table, "source": source, "kind": kind, "name": "db-password",
           "path": "prod/db-password" if source != "gcp" else "projects/acme/secrets/db-password",
           "id": f"{source}:store:prod/db-password"}
    step = revoke_first(row)
    assert own in step, step
    assert not any(f in step for f in foreign), step


@pytest.mark.parametrize("source, sdk", [("azure", "azure"), ("gcp", "google")])
def test_assessor_role_without_its_sdk_is_one_line_naming_the_extra(source, sdk, monkeypatch, capsys):
    """`posture policy azure|gcp` on an install without the extra (the demo's): exit 2, one line."""
    for name in [m for m in sys.modules if m.startswith(f"collectors.{source}") or m == sdk
                 or m.startswith(sdk + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, sdk, None)
    assert main(["policy", source]) == 2
    err = capsys.readouterr().err
    assert f"secrets-posture-kit[{source}]" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
