"""`groundseg proof-test`: the proof test of every redline and interlock of a pad
definition against hw_sim, with a report a reviewer signs (docs/test-bench.md).

    groundseg proof-test --pad pads/baiterek.toml --operator "A. Operator" --out proof/

    groundseg proof-test --pad bench.toml --target bench --url https://bench-7:8443

The exit status is 0 when every rule passed (on a bench: when none failed), else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import html
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from groundseg.config import load_pad
from groundseg.testing.expect import ProcedureError
from groundseg.testing.proof import ProofResult, run_bench_campaign, run_campaign
from groundseg.testing.provenance import build, now_text, sha256

__all__ = ["add_proof_command"]


def add_proof_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    proof = commands.add_parser(
        "proof-test", help="the proof test of every redline and interlock, on hw_sim"
    )
    proof.add_argument("--pad", type=Path, required=True)
    proof.add_argument(
        "--target",
        choices=("sim", "bench"),
        default="sim",
        help="sim: every rule on hw_sim; bench: the safe subset on --url (nothing sent)",
    )
    proof.add_argument("--url", help="the bench controller's API (with --target bench)")
    proof.add_argument("--user", default="conductor", help="password in GROUNDSEG_PASSWORD")
    proof.add_argument("--operator", default=getpass.getuser(), help="who ran it (the report)")
    proof.add_argument("--out", type=Path, default=Path("proof-test"))
    proof.add_argument("--rule", action="append", default=[], help="only these rules")
    proof.add_argument("--settle-s", type=float, default=30.0, help="longest wait for quiet")
    proof.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    pad = load_pad(args.pad)

    def shown(result: ProofResult) -> None:
        reaction = f"{result.reaction_ms:.0f} ms" if result.reaction_ms is not None else "-"
        print(f"{result.result.upper():13} {reaction:>9}  {result.rule}", file=sys.stderr)

    if args.target == "bench":
        if not args.url:
            raise ProcedureError("--target bench needs --url")
        results = asyncio.run(
            run_bench_campaign(
                args.url,
                pad,
                user=args.user,
                password=os.environ.get("GROUNDSEG_PASSWORD", ""),
                progress=shown,
            )
        )
    else:
        results = asyncio.run(
            run_campaign(args.pad, pad, only=args.rule, settle_s=args.settle_s, progress=shown)
        )
    head = {
        "pad definition": f"{args.pad} (sha256 {sha256(args.pad)})",
        "build": build(),
        "operator": args.operator,
        "date": now_text(),
        "target": "hw_sim (simulated pad)"
        if args.target == "sim"
        else f"bench {args.url} (safe subset: nothing injected, nothing sent)",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "proof-test.json").write_text(
        json.dumps({"head": head, "rules": [asdict(r) for r in results]}, indent=2)
    )
    (args.out / "proof-test.html").write_text(render(pad.name, head, results), encoding="utf-8")
    passed = sum(1 for r in results if r.result == "pass")
    print(f"{passed} of {len(results)} rules passed; report {args.out / 'proof-test.html'}")
    failed = any(r.result == "fail" for r in results)
    untested = args.target == "sim" and any(r.result != "pass" for r in results)
    return 0 if results and not failed and not untested else 1


def render(pad_name: str, head: dict[str, str], results: list[ProofResult]) -> str:
    passed = sum(1 for r in results if r.result == "pass")
    rows = "".join(
        f"<tr class={html.escape(r.result.replace(' ', '-'))}><td>{html.escape(r.kind)}</td>"
        f"<td>{html.escape(r.rule)}</td><td>{html.escape(r.result.upper())}</td>"
        f"<td>{'' if r.reaction_ms is None else f'{r.reaction_ms:.0f} ms'}</td>"
        f"<td>{html.escape(r.stimulus)}</td><td>{html.escape(r.note)}</td></tr>"
        for r in results
    )
    facts = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in head.items()
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Proof test {html.escape(pad_name)}</title><style>"
        "body{font:14px/1.4 system-ui,sans-serif;margin:2em}td{padding:.2em .8em;"
        "border-bottom:1px solid #ddd;vertical-align:top}.pass td:nth-child(3){color:#075}"
        ".fail td:nth-child(3),.not-testable td:nth-child(3){color:#b00}</style></head><body>"
        f"<h1>Proof test, {html.escape(pad_name)}: {passed} of {len(results)} rules passed</h1>"
        f"<table>{facts}</table><h2>Rules</h2><table><tr><th>kind</th><th>rule</th>"
        "<th>result</th><th>reaction</th><th>stimulus</th><th>note</th></tr>"
        f"{rows}</table></body></html>"
    )
