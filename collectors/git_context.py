"""Where in a repository a finding sits, read from its path: production, tests, docs, vendored.

A key under ``tests/`` is still worth a low finding, a credential in a
documentation example is worth a look, vendored third-party code is someone
else's leak: none is a critical production secret. `path_context` says which
of these a path is; checks pick their severity from it. A few file classes
carry no secret by high entropy alone (markup, templates, lock files,
translations): `entropy_is_noise` says so.
"""

from __future__ import annotations

import re
from functools import lru_cache

CONTEXTS = ("production", "test_fixture", "documentation", "vendored")

#: Third-party code checked in: package managers' folders and the usual vendoring names.
VENDORED = re.compile(
    r"(^|/)(vendor|vendors|third[_-]party|3rdparty|node_modules|bower_components|site-packages"
    r"|\.yarn/cache|Pods|Carthage)/",
    re.IGNORECASE,
)
#: Test code and its data, by folder (``tests/``, ``fixtures/``, ``testdata/``) or file name.
TEST_FIXTURE = re.compile(
    r"(^|/)(tests?|__tests__|spec|specs|fixtures?|testdata|test[_-]data|testing|mocks?|__mocks__|e2e)/"
    r"|(^|/)(test_[^/]+|[^/]+_(test|spec)\.[a-z]+|[^/]+\.(test|spec)\.[a-z]+|conftest\.py)$",
    re.IGNORECASE,
)
#: Documentation: docs folders, examples and prose files.
DOCUMENTATION = re.compile(
    r"(^|/)(docs?|documentation|examples?|samples?|man|wiki)/"
    r"|\.(md|markdown|rst|adoc|asciidoc|rdoc|textile)(\.txt)?$|(^|/)(README|CHANGELOG|CHANGES|HISTORY)[^/]*$"
    r"|(^|/)_sources/",  # Sphinx's copy of the sources in built docs: ``_sources/config.rst.txt``
    re.IGNORECASE,
)


@lru_cache(maxsize=8192)
def path_context(path: str) -> str:
    """``vendored``, ``test_fixture``, ``documentation`` or ``production`` for a repository path.

    General class: the part of a repository a file belongs to. Vendored wins
    over tests (``node_modules/x/test/``), tests over documentation
    (``tests/README.md`` documents a fixture).
    """
    if VENDORED.search(path):
        return "vendored"
    if TEST_FIXTURE.search(path):
        return "test_fixture"
    if DOCUMENTATION.search(path):
        return "documentation"
    return "production"


#: Markup and templates: hashes, analytics ids and asset digests are their everyday content.
MARKUP = re.compile(
    r"\.(html?|xhtml|svg|vue|svelte|j2|jinja2?|tmpl|tpl|mustache|hbs|handlebars|ejs|erb|twig|liquid|njk"
    r"|haml|slim|pug|css|scss|less|map)$|(^|/)templates?/",
    re.IGNORECASE,
)
#: Lock, checksum and SBOM files: integrity hashes by design.
LOCK_FILE = re.compile(
    r"(^|/)(package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.ya?ml|bun\.lockb|Pipfile\.lock"
    r"|poetry\.lock|uv\.lock|pdm\.lock|Cargo\.lock|Gemfile\.lock|composer\.lock|go\.sum|mix\.lock"
    r"|Podfile\.lock|packages\.lock\.json|flake\.lock|[^/]+\.(lock|sum|sha256|sha512|md5)"
    r"|[^/]+\.spdx(\.json)?|[^/]+\.cdx\.json|(sbom|bom)\.json)$",  # SBOMs: package checksums by design
    re.IGNORECASE,
)
#: Translation catalogues: ``"password": "Passwort"`` is a label.
TRANSLATION = re.compile(r"(^|/)(locales?|i18n|l10n|lang|langs|translations?)/|\.(po|pot|xliff|xlf|resx)$",
                         re.IGNORECASE)


@lru_cache(maxsize=8192)
def entropy_is_noise(path: str) -> bool:
    """High entropy alone is no secret in this file (markup, template, lock file, translation, docs).

    General class: files whose random-looking strings are digests and ids by
    design. Named and typed credentials are still found there.
    """
    return bool(MARKUP.search(path) or LOCK_FILE.search(path) or TRANSLATION.search(path)) \
        or path_context(path) == "documentation"


@lru_cache(maxsize=8192)
def is_translation(path: str) -> bool:
    """A translation catalogue: its keys name form fields, its values are labels."""
    return bool(TRANSLATION.search(path))


_DOC_OPEN = re.compile(r'^\s*[rRuUbB]{0,2}("""|\'\'\')')
_BLOCK_DOC_LANGS = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".java", ".kt", ".scala", ".groovy", ".go", ".c",
                    ".cc", ".cpp", ".h", ".hpp", ".cs", ".php", ".swift", ".rs", ".dart", ".m")


def doc_comment_lines(path: str, lines: list[tuple[int, str]]) -> set[int]:
    """Line numbers inside documentation comments among consecutive ``lines``.

    General class: documentation inside code: Python docstrings (a triple quote
    at the start of a statement line; ``x = \"\"\"...`` is a string, not a
    docstring) and ``/** ... */`` doc blocks of C-family languages (JSDoc,
    Javadoc, PHPDoc). A gap in the line numbers (a new diff hunk) ends any open
    block.
    """
    if path.endswith((".py", ".pyi")):
        opens, close = _DOC_OPEN, None
    elif path.endswith(_BLOCK_DOC_LANGS):
        opens, close = re.compile(r"^\s*(/\*\*)"), "*/"
    else:
        return set()
    inside: set[int] = set()
    quote: str | None = None
    prev = None
    for lineno, text in lines:
        if prev is not None and lineno != prev + 1:
            quote = None
        prev = lineno
        if quote is None:
            m = opens.match(text)
            if not m:
                continue
            q = close or m.group(1)
            inside.add(lineno)
            if text.count(q) == (0 if close else 1):
                quote = q
            continue
        inside.add(lineno)
        if quote in text:
            quote = None
    return inside
