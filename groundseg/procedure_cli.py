"""`groundseg procedure run PATH`: a bench procedure (pytest files using groundseg.testing)
against hw_sim or a bench, with a JUnit XML file for CI and an HTML report for review.

    groundseg procedure run examples/procedures --target sim --pad pads/baiterek.toml
    groundseg procedure run procedures/lox_fill.py --target bench --url https://bench-7:8443
    groundseg procedure run procedures/lox_fill.py --dry-run      # connects to nothing

The procedure runs under pytest (its own process, the groundseg plugin loaded), so a
procedure is an ordinary pytest file and everything pytest offers works. The exit status
is pytest's: 0 when every step passed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import subprocess
import sys
from pathlib import Path

from groundseg.testing.provenance import build, now_text, sha256
from groundseg.testing.report import render_procedure_report

__all__ = ["add_procedure_command"]


def add_procedure_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    procedure = commands.add_parser("procedure", help="test-bench procedures")
    actions = procedure.add_subparsers(title="actions", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="run a procedure; JUnit XML and an HTML report")
    run.add_argument("path", type=Path, help="a procedure file or a directory of them")
    run.add_argument("--target", choices=("sim", "bench"), default="sim")
    run.add_argument("--pad", type=Path, default=Path("pads/baiterek.toml"))
    run.add_argument("--url", help="the bench controller's API (with --target bench)")
    run.add_argument("--user", default="conductor", help="password in GROUNDSEG_PASSWORD")
    run.add_argument("--speed", type=float, default=1.0, help="hw_sim's speed (--target sim)")
    run.add_argument("--out", type=Path, default=Path("procedure-results"))
    run.add_argument("--dry-run", action="store_true", help="note every command; send none")
    run.add_argument("-k", dest="select", help="only the steps matching (pytest -k)")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    junit, steps_file, report = out / "junit.xml", out / "steps.jsonl", out / "report.html"
    steps_file.unlink(missing_ok=True)
    # The procedure's folder is the root: its steps are named by their module in the
    # JUnit file, and procedures need no pytest configuration of their own.
    root = args.path if args.path.is_dir() else args.path.parent
    command = [
        sys.executable, "-m", "pytest", str(args.path), "-q", "-p", "no:cacheprovider",
        "--rootdir", str(root), "-o", "asyncio_mode=auto",
        "-o", "asyncio_default_fixture_loop_scope=function",
        "--junitxml", str(junit), "-o", "junit_family=xunit2",
        "--groundseg-target", args.target, "--groundseg-pad", str(args.pad),
        "--groundseg-user", args.user, "--groundseg-speed", str(args.speed),
        "--groundseg-record", str(steps_file),
    ]  # fmt: skip
    if args.url:
        command += ["--groundseg-url", args.url]
    if args.dry_run:
        command.append("--groundseg-dry-run")
    if args.select:
        command += ["-k", args.select]
    status = subprocess.run(command, check=False).returncode  # noqa: S603  our interpreter
    steps = (
        [json.loads(line) for line in steps_file.read_text().splitlines() if line.strip()]
        if steps_file.exists()
        else []
    )
    head = {
        "procedure": str(args.path),
        "target": f"{args.target} (dry run: nothing sent)" if args.dry_run else args.target,
        "pad definition": f"{args.pad} (sha256 {sha256(args.pad)[:16]})",
        "build": build(),
        "operator": args.user if args.target == "bench" else f"{getpass.getuser()} (simulated)",
        "date": now_text(),
        "junit": str(junit),
    }
    report.write_text(render_procedure_report(head, steps), encoding="utf-8")
    print(f"{len(steps)} steps; JUnit XML {junit}; report {report}")
    return status
