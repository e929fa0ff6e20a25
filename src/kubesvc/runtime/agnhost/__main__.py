"""Entry point: ``python -m kubesvc.runtime.agnhost <subcommand> [flags]``."""

from __future__ import annotations

import signal
import sys

USAGE = """agnhost is a test image for the Kubernetes e2e tests (kubesvc built-in).

Usage:
  agnhost [command]

Available Commands:
  netexec        Creates HTTP(S), UDP, and (optionally) SCTP servers with various endpoints
  pause          Pauses the execution
  port-forward-tester Creates a TCP server that sends chunks of data
  serve-hostname Serves the hostname
"""


def pause() -> None:
    """Sleep until SIGINT/SIGTERM, then exit 0 (as the pause container does)."""
    def down(signum: int, _frame: object) -> None:
        sys.stderr.write(f"Shutting down, got signal: {signal.Signals(signum).name}\n")
        sys.exit(0)

    signal.signal(signal.SIGTERM, down)
    signal.signal(signal.SIGINT, down)
    sys.stderr.write("Paused\n")
    sys.stderr.flush()
    while True:
        signal.pause()


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "netexec":
        from kubesvc.runtime.agnhost import netexec

        netexec.main(rest)
    elif cmd == "serve-hostname":
        from kubesvc.runtime.agnhost import serve_hostname

        serve_hostname.main(rest)
    elif cmd == "port-forward-tester":
        from kubesvc.runtime.agnhost import port_forward_tester

        port_forward_tester.main(rest)
    elif cmd == "pause":
        pause()
    else:
        sys.stderr.write(f'Error: unknown command "{cmd}" for "agnhost"\n'
                         "Run 'agnhost --help' for usage.\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
