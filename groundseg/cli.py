"""The `groundseg` command line: each command lives in its own module, and only the module
of the command being run is imported (the controller's, the API's and the database's
libraries take seconds to load; `groundseg replay` or `check-config` need none of them).

Configuration mistakes get a precise message and exit status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from groundseg import __version__
from groundseg.errors import ConfigError, GroundsegError
from groundseg.logs import configure_logging

__all__ = ["main"]

EXIT_USAGE = 2

COMMANDS = {
    "check-config": "groundseg.tools_cli:add_tool_commands",
    "audit": "groundseg.tools_cli:add_tool_commands",
    "poll": "groundseg.tools_cli:add_tool_commands",
    "controller": "groundseg.service_cli:add_service_commands",
    "ingest": "groundseg.service_cli:add_service_commands",
    "demo": "groundseg.demo:add_demo_command",
    "users": "groundseg.users_cli:add_users_command",
    "export": "groundseg.replay_cli:add_replay_commands",
    "rerun": "groundseg.replay_cli:add_replay_commands",
    "replay": "groundseg.replay_cli:add_replay_commands",
    "report": "groundseg.replay_cli:add_replay_commands",
    "procedure": "groundseg.procedure_cli:add_procedure_command",
    "proof-test": "groundseg.proof_cli:add_proof_command",
}
"""Command -> the function that adds it (and its module's other commands) to the parser."""


def main(argv: Sequence[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else list(argv)
    parser = _parser(given)
    args = parser.parse_args(given)
    configure_logging(args.log_level)
    # SIGTERM (a service manager stopping us) unwinds like Ctrl-C: child processes are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        result: int = args.handler(args)
    except ConfigError as exc:
        print(f"groundseg: configuration error\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except GroundsegError as exc:
        print(f"groundseg: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return result


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser with the command named in `argv`, or with every command (for help, a
    mistyped command, or None)."""
    parser = argparse.ArgumentParser(
        prog="groundseg", description="Ground-segment telemetry and pad control."
    )
    parser.add_argument("--version", action="version", version=f"groundseg {__version__}")
    parser.add_argument(
        "--log-level", default="warning", help="debug, info, warning or error (logs go to stderr)"
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    named = [a for a in argv or () if a in COMMANDS]
    wanted = [COMMANDS[named[0]]] if named else list(dict.fromkeys(COMMANDS.values()))
    for where in wanted:
        module, _, function = where.partition(":")
        getattr(importlib.import_module(module), function)(commands)
    return parser
