"""Operator accounts: names, roles and argon2id password hashes, in one JSON file.

    {"users": [{"name": "director", "roles": ["director"], "password": "$argon2id$..."}]}

The file is the site's (`groundseg users add NAME --role operator` writes it, mode 0600);
the controller reads it at start. A password is never stored, logged or compared as text:
argon2id (argon2-cffi's defaults) hashes it, and verification costs the same time whether
the user exists or not, so a login's timing does not tell which names are real.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pydantic
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from groundseg.errors import ConfigError, ConfigProblem
from groundseg.files import replace_file
from groundseg.gate.authority import Role, User

__all__ = ["Account", "UserStore", "hash_password"]

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a miss costs what a hit costs. Made on
    first use: at import it cost every `groundseg` command a sixth of a second."""
    return _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("a password cannot be empty")
    return _hasher.hash(password)


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    name: str
    roles: frozenset[Role]
    password_hash: str

    def __post_init__(self) -> None:
        if not self.name or not self.name.isprintable() or " " in self.name:
            raise ValueError(f"a user name must be printable with no spaces, got {self.name!r}")
        if not self.password_hash.startswith("$argon2"):
            raise ValueError(f"user {self.name}: the password must be an argon2 hash")

    @property
    def user(self) -> User:
        return User(name=self.name, roles=self.roles)


class _AccountFile(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    name: str = pydantic.Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    roles: list[Role]
    password: str = pydantic.Field(pattern=r"^\$argon2")


class _UsersFile(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    users: list[_AccountFile]


class UserStore:
    def __init__(self, accounts: Iterable[Account] = ()) -> None:
        self._accounts: dict[str, Account] = {}
        for account in accounts:
            if account.name in self._accounts:
                raise ValueError(f"user {account.name} is declared twice")
            self._accounts[account.name] = account

    @classmethod
    def load(cls, path: Path) -> UserStore:
        """Read a users file; ConfigError naming the file and the entry if it is wrong."""
        try:
            raw = json.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(
                str(path), [ConfigProblem(key="", expected=f"a readable file ({exc.strerror})")]
            ) from None
        except ValueError as exc:
            raise ConfigError(
                str(path), [ConfigProblem(key="", expected=f"JSON ({exc})")]
            ) from None
        try:
            parsed = _UsersFile.model_validate(raw)
        except pydantic.ValidationError as exc:
            raise ConfigError(
                str(path),
                [
                    ConfigProblem(key=".".join(str(p) for p in error["loc"]), expected=error["msg"])
                    for error in exc.errors()
                ],
            ) from None
        try:
            return cls(
                Account(name=a.name, roles=frozenset(a.roles), password_hash=a.password)
                for a in parsed.users
            )
        except ValueError as exc:
            raise ConfigError(str(path), [ConfigProblem(key="users", expected=str(exc))]) from None

    @classmethod
    def with_passwords(cls, users: Mapping[str, tuple[str, Iterable[Role]]]) -> UserStore:
        """Accounts from {name: (password, roles)}: the demo's, and tests'."""
        return cls(
            Account(name=name, roles=frozenset(roles), password_hash=hash_password(password))
            for name, (password, roles) in users.items()
        )

    def save(self, path: Path) -> None:
        """Replace the file whole; it keeps its mode and group (a service's group may need
        to read it), and a new file is private to its owner."""
        try:
            before = path.stat()
            mode, group = before.st_mode & 0o777, before.st_gid
        except FileNotFoundError:
            mode, group = 0o600, -1
        document = {
            "users": [
                {"name": a.name, "roles": sorted(a.roles), "password": a.password_hash}
                for a in sorted(self._accounts.values(), key=lambda a: a.name)
            ]
        }
        # Accounts lost to a power cut would lock the operators out of the console.
        replace_file(
            path, json.dumps(document, indent=2) + "\n", mode=mode, group=group, durable=True
        )

    def add(self, name: str, password: str, roles: Iterable[Role]) -> Account:
        """Add or replace an account."""
        account = Account(name=name, roles=frozenset(roles), password_hash=hash_password(password))
        self._accounts[name] = account
        return account

    def remove(self, name: str) -> None:
        if self._accounts.pop(name, None) is None:
            raise KeyError(name)

    def accounts(self) -> tuple[Account, ...]:
        return tuple(sorted(self._accounts.values(), key=lambda a: a.name))

    def authenticate(self, name: str, password: str) -> User | None:
        """The user, if the password is theirs; None otherwise (whichever part was wrong)."""
        account = self._accounts.get(name)
        try:
            _hasher.verify(account.password_hash if account else _dummy_hash(), password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return account.user if account else None
