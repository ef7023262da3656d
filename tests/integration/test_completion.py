"""``kubegate completion SHELL``: the scripts load in the real shells and complete subcommands,
flags, choices and paths (bash through its completion function, fish through ``complete
-C``, zsh through compinit)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest


def _script(shell: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "kubegate.cli.main", "completion", shell],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "kubegate.bash"
    path.write_text(_script("bash"))
    return path


def _bash_complete(script: Path, line: str, cwd: Path | None = None) -> list[str]:
    """What TAB offers at the end of ``line``: the function ``complete -p`` registered for
    kubegate, called as bash calls it."""
    program = f"""
source {shlex.quote(str(script))}
spec=$(complete -p kubegate) || exit 3
fn=$(sed -E 's/.* -F ([^ ]+) .*/\\1/' <<<"$spec")
COMP_LINE={shlex.quote(line)}
COMP_POINT=${{#COMP_LINE}}
read -r -a COMP_WORDS <<<"$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMPREPLY=()
"$fn" kubegate "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_bash_completes_a_subcommand(bash_script: Path) -> None:
    """``kubegate pro<TAB>`` offers ``proxy`` and nothing else."""
    assert _bash_complete(bash_script, "kubegate pro") == ["proxy"]


def test_bash_completes_proxy_flags(bash_script: Path) -> None:
    """The flags of ``kubegate proxy`` complete, its own and the kubeconfig ones."""
    assert _bash_complete(bash_script, "kubegate proxy --acc") == [
        "--accept-hosts",
        "--accept-paths",
    ]
    assert "--kubeconfig" in _bash_complete(bash_script, "kubegate proxy --")


def test_bash_completes_choices_and_sub_subcommands(bash_script: Path) -> None:
    """Fixed choices and ``cluster-info dump`` complete."""
    assert _bash_complete(bash_script, "kubegate cluster-info d") == ["dump"]
    assert _bash_complete(bash_script, "kubegate completion f") == ["fish"]


def test_bash_completes_kubeconfig_paths(bash_script: Path, tmp_path: Path) -> None:
    """``--kubeconfig`` completes file names."""
    (tmp_path / "dev.kubeconfig").write_text("")
    line = "kubegate proxy --kubeconfig dev."
    assert _bash_complete(bash_script, line, cwd=tmp_path) == ["dev.kubeconfig"]


def test_fish_completes_subcommands_and_flags(tmp_path: Path) -> None:
    """The fish script, sourced by fish, completes subcommands and proxy flags."""
    script = tmp_path / "kubegate.fish"
    script.write_text(_script("fish"))
    program = (
        f"source {shlex.quote(str(script))}; "
        'complete -C "kubegate pro"; echo ---; complete -C "kubegate proxy --acc"'
    )
    done = subprocess.run(["fish", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    subcommands, flags = done.stdout.split("---\n")
    assert [line.split("\t")[0] for line in subcommands.splitlines()] == ["proxy"]
    assert [line.split("\t")[0] for line in flags.splitlines()] == [
        "--accept-hosts",
        "--accept-paths",
    ]


def test_zsh_registers_the_completion(tmp_path: Path) -> None:
    """The zsh script parses and compinit binds it to ``kubegate`` from ``$fpath``."""
    (tmp_path / "_kubegate").write_text(_script("zsh"))
    program = (
        f"fpath=({shlex.quote(str(tmp_path))} $fpath); autoload -Uz compinit; "
        f"compinit -u -d {shlex.quote(str(tmp_path / 'zcompdump'))}; "
        "print -r -- ${_comps[kubegate]}"
    )
    done = subprocess.run(["zsh", "-f", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "_kubegate"


def test_completion_help_shows_how_to_load_it() -> None:
    """``kubegate completion --help`` carries the loading examples."""
    done = subprocess.run(
        [sys.executable, "-m", "kubegate.cli.main", "completion", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert "source <(kubegate completion bash)" in done.stdout
