"""`groundseg users`: the operator API's accounts file.

    groundseg users add director --role director --file /etc/groundseg/users.json
    groundseg users list --file /etc/groundseg/users.json
    groundseg users remove director --file /etc/groundseg/users.json

The password is asked for twice on the terminal (or read from one line of stdin with
`--password-stdin`, for provisioning scripts), never taken from the command line, where
`ps` and the shell history would keep it. The file is written whole, mode 0600.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from groundseg.api.users import UserStore
from groundseg.errors import ConfigError, ConfigProblem
from groundseg.gate.authority import Role

__all__ = ["add_users_command"]

MIN_PASSWORD = 10


def add_users_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = commands.add_parser("users", help="accounts of the operator API")
    actions = users.add_subparsers(title="actions", required=True, metavar="ACTION")
    roles = ", ".join(r.value for r in Role)

    add = actions.add_parser("add", help="add an account, or change its password and roles")
    add.add_argument("name")
    add.add_argument(
        "--role", action="append", required=True, choices=[r.value for r in Role], help=roles
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=_add)

    remove = actions.add_parser("remove", help="remove an account")
    remove.add_argument("name")
    remove.set_defaults(handler=_remove)

    listing = actions.add_parser("list", help="the accounts and their roles")
    listing.set_defaults(handler=_list)

    for action in (add, remove, listing):
        action.add_argument(
            "--file", type=Path, default=Path("users.json"), help="accounts file (JSON)"
        )


def _store(path: Path) -> UserStore:
    return UserStore.load(path) if path.exists() else UserStore()


def _add(args: argparse.Namespace) -> int:
    store = _store(args.file)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("password", [ConfigProblem(key="", expected="the same twice")])
    if len(password) < MIN_PASSWORD:
        raise ConfigError(
            "password", [ConfigProblem(key="", expected=f"at least {MIN_PASSWORD} characters")]
        )
    try:
        store.add(args.name, password, [Role(r) for r in args.role])
    except ValueError as exc:
        raise ConfigError("name", [ConfigProblem(key="", expected=str(exc))]) from None
    store.save(args.file)
    print(f"{args.name}: {', '.join(sorted(args.role))} (in {args.file})")
    return 0


def _remove(args: argparse.Namespace) -> int:
    store = _store(args.file)
    try:
        store.remove(args.name)
    except KeyError:
        raise ConfigError(
            str(args.file), [ConfigProblem(key=args.name, expected="an existing account")]
        ) from None
    store.save(args.file)
    print(f"{args.name} removed")
    return 0


def _list(args: argparse.Namespace) -> int:
    for account in _store(args.file).accounts():
        print(f"{account.name}\t{', '.join(sorted(account.roles))}")
    return 0
