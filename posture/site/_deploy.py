"""Build with MkDocs and commit with mike, in ONE interpreter (run as a subprocess).

``mike deploy`` then ``mike set-default`` from the command line start three
Python processes (mike, its nested ``mkdocs build``, mike again), each
importing MkDocs and Material: most of a publish on a 2-core machine. This
uses mike's own Python API (`mike.commands.deploy` / `set_default`) around an
in-process `mkdocs.commands.build.build`, so the result on the branch is what
the CLI would write. It runs in a subprocess, with the site repository as its
working directory (mike's git helpers use the cwd), so MkDocs' global state
never touches the caller.

    python -m posture.site._deploy CONFIG VERSION BRANCH MESSAGE [ALIAS ...]
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    config_file, version, branch, message, *aliases = argv
    from mike import commands, git_utils
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    cfg = load_config(config_file)
    cfg.plugins.on_startup(command="build", dirty=False)
    try:
        with commands.deploy(cfg, version, title=version, aliases=aliases, update_aliases=True,
                             alias_type=commands.AliasType.redirect, branch=branch,
                             message=message):
            build(cfg)
    finally:
        cfg.plugins.on_shutdown()
    try:  # the root page redirects to `latest`; already so after the first publish
        commands.set_default("latest", branch=branch, message=f"{message}: default version")
    except git_utils.GitEmptyCommit:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
