"""``kubegate completion SHELL``: a shell completion script, as ``kubectl completion`` prints.

The script is generated from the same argparse parser that parses the command line (by
shtab), so every subcommand, flag and fixed choice completes and can never drift from the
real options; flags that take a file or directory complete paths.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

__all__ = ["SHELLS", "register"]

SHELLS = ("bash", "zsh", "fish", "powershell", "tcsh")
EXAMPLES = """\
examples:
  # bash: this shell, then every new one (needs the bash-completion package)
  source <(kubegate completion bash)
  kubegate completion bash > ~/.local/share/bash-completion/completions/kubegate
  # zsh: a file named _kubegate in a directory of $fpath, then restart zsh
  kubegate completion zsh > "${fpath[1]}/_kubegate"
  # fish
  kubegate completion fish > ~/.config/fish/completions/kubegate.fish
"""
# Flags whose values are paths (by dest), so the shell offers files or directories there.
_FILE_FLAGS = frozenset(
    {
        "kubeconfig",
        "token_file",
        "unix_socket",
        "tls_cert_file",
        "tls_private_key_file",
        "client_ca_file",
        "token_auth_file",
        "basic_auth_file",
        "oidc_ca_file",
        "oidc_jwks_file",
        "proxy_ca_file",
        "audit_log_path",
        "audit_policy_file",
    }
)
_DIR_FLAGS = frozenset({"www", "data_dir", "output_directory"})


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish, powershell, tcsh)",
        description=(
            "Prints a completion script for kubegate's subcommands, flags and choices. "
            "Load it in the shell (see the examples) to complete with TAB."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("shell", choices=SHELLS, help="the shell to write the script for")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    import shtab

    from kubegate.cli.main import build_parser

    parser = build_parser()
    _mark_paths(parser, shtab)
    out = sys.stdout if out is None else out
    out.write(shtab.complete(parser, shell=args.shell))
    return 0


def _mark_paths(parser: argparse.ArgumentParser, shtab: object) -> None:
    """Tag path-valued flags, in the parser and every subcommand's, for shtab."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _mark_paths(child, shtab)
        elif action.dest in _FILE_FLAGS:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        elif action.dest in _DIR_FLAGS:
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
