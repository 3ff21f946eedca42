"""`groundseg users`: the accounts file, as a site's administrator writes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from groundseg.api.users import UserStore
from groundseg.gate.authority import Role, User


def _users(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groundseg", "users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_an_account_added_from_stdin_logs_in_with_its_roles(tmp_path: Path) -> None:
    file = tmp_path / "users.json"
    added = _users(
        "add", "td1", "--role", "director", "--role", "safety", "--password-stdin",
        "--file", str(file), stdin="correct horse battery\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert file.stat().st_mode & 0o777 == 0o600
    listed = _users("list", "--file", str(file))
    assert listed.stdout.strip() == "td1\tdirector, safety"
    user = UserStore.load(file).authenticate("td1", "correct horse battery")
    assert user == User(name="td1", roles=frozenset({Role.DIRECTOR, Role.SAFETY}))


def test_a_short_password_and_an_unknown_account_are_refused_clearly(tmp_path: Path) -> None:
    file = tmp_path / "users.json"
    short = _users(
        "add", "op", "--role", "operator", "--password-stdin", "--file", str(file), stdin="short\n"
    )
    assert short.returncode == 2
    assert "at least 10 characters" in short.stderr
    assert not file.exists(), "nothing written"
    missing = _users("remove", "nobody", "--file", str(file))
    assert missing.returncode == 2
    assert "nobody" in missing.stderr
