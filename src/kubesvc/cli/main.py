"""Entry point of the ``kubesvc`` command; parses arguments and hands off to a subcommand."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from kubesvc.cli.commands import run

    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
