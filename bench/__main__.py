"""``python -m bench [SUITE] [options]``: run one suite (``api`` when none is named).

``python -m bench all [--quick] [--no-pin] [--results-dir DIR]`` runs every suite of
``ALL_SUITES`` in turn with those shared options and exits with the worst exit code.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from bench import ALL_SUITES, DEFAULT_SUITE, SUITES


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM ends a run like Ctrl-C does, so the suite still stops the server it started.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _interrupt)
    if args and args[0] == "all":
        return _run_all(args[1:])
    suite = args.pop(0) if args and args[0] in SUITES else DEFAULT_SUITE
    return _run(suite, args)


def _run_all(args: list[str]) -> int:
    """Each suite of ``ALL_SUITES`` with the same options; stops early only on Ctrl-C."""
    codes = []
    for suite in ALL_SUITES:
        print(f"=== python -m bench {' '.join([suite, *args])}", flush=True)
        code = _run(suite, list(args))
        if code == 130:
            return code
        codes.append(code)
        print(flush=True)
    return max(codes)


def _run(suite: str, args: list[str]) -> int:
    module = importlib.import_module(SUITES[suite])
    try:
        return int(module.main(args) or 0)
    except BrokenPipeError:
        # stdout went away (``| head``); the results file is already written.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
