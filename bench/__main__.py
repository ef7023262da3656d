"""``python -m bench [SUITE] [options]``: run one suite (``api`` when none is named)."""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from bench import DEFAULT_SUITE, SUITES


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM ends a run like Ctrl-C does, so the suite still stops the server it started.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    suite = args.pop(0) if args and args[0] in SUITES else DEFAULT_SUITE
    signal.signal(signal.SIGTERM, _interrupt)
    module = importlib.import_module(SUITES[suite])
    try:
        return int(module.main(args) or 0)
    except BrokenPipeError:
        # stdout went away (``| head``); the results file is already written.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
