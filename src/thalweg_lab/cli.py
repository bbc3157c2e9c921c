"""``thalweg lab``: run a reproduction from the command line.

::

    thalweg lab --list                      # every experiment: name, paper, title, claim, run times
    thalweg lab depth                       # full run -> runs/lab/depth/report.md
    thalweg lab clr --quick --seed 1 --out /tmp/clr
    thalweg lab all --quick                 # every experiment in turn, reports under runs/lab/<name>-quick
    python -m thalweg_lab depth --quick     # the same without the main command

Hooked into the main command by ``add_parser(subparsers)`` (which sets
``func=run`` on the sub-parser); ``main(argv)`` runs it on its own.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any, Sequence

__all__ = ["add_parser", "build_parser", "run", "main"]

_DESCRIPTION = ("Reproduce a paper's claim with thalweg: run the experiment, write a report (claim, setup, "
                "measured figures, verdict, plots) and print the claim, the measured figures and the verdict.")


def _configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("name", nargs="?", metavar="NAME", help="experiment to run (see --list), or 'all'")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--quick", action="store_true", help="a small run (seconds), as the tests do")
    p.add_argument("--out", metavar="DIR", help="report directory (default runs/lab/NAME, or NAME-quick)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--data-dir", metavar="DIR", help="folder holding mnist/ and fashion-mnist/ (default "
                                                      "$THALWEG_DATA, then ../shared/data; else the embedded digits)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    p.set_defaults(func=run)
    return p


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``lab`` sub-command to an ``argparse`` sub-parsers object; returns the new parser."""
    p = subparsers.add_parser("lab", help="reproduce a paper's claim and judge it (thalweg lab --list)",
                              description=_DESCRIPTION)
    return _configure(p)


def build_parser() -> argparse.ArgumentParser:
    """A stand-alone parser (``python -m thalweg_lab``)."""
    return _configure(argparse.ArgumentParser(prog="thalweg lab", description=_DESCRIPTION))


def _list() -> int:
    from thalweg_lab.registry import discovery_errors, experiments

    found = experiments()
    width = max((len(n) for n in found), default=4)
    for name, exp in found.items():
        print(f"{name.ljust(width)}  {exp.paper:<11}  quick ~{exp.quick_seconds:g} s, full ~{exp.full_minutes:g} min")
        print(textwrap.indent(textwrap.fill(exp.title, 100), " " * (width + 2)))
        print(textwrap.indent(textwrap.fill("claim: " + exp.claim, 100), " " * (width + 2)))
    for module, err in discovery_errors().items():
        print(f"thalweg lab: module thalweg_lab.{module} failed to import: {err.splitlines()[0]}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    """Carry out a parsed ``thalweg lab`` command; returns the exit status.

    Bad input (an unknown name, a negative seed) raises ``ValueError``, which
    the main command prints as a one-line error with status 2.
    """
    from thalweg_lab import datasets
    from thalweg_lab.registry import experiments, get_experiment, run_experiment

    if args.list:
        return _list()
    if not args.name:
        raise ValueError("give an experiment name (thalweg lab --list shows them) or 'all'")
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.data_dir is not None:
        if not Path(args.data_dir).is_dir():
            raise ValueError(f"--data-dir: no such directory: {args.data_dir}")
        datasets.use_data_dir(args.data_dir)
    names = list(experiments()) if args.name == "all" else [get_experiment(args.name).name]
    for i, name in enumerate(names):
        if len(names) > 1:
            print(f"=== [{i + 1}/{len(names)}] {name}", flush=True)
        if args.out is None:
            out = None
        else:
            out = Path(args.out) / name if len(names) > 1 else Path(args.out)
        run_experiment(name, quick=args.quick, out_dir=out, seed=args.seed)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m thalweg_lab``: parse ``argv`` and run; errors as one line, status 2."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else 2
    try:
        return run(args)
    except (ValueError, OSError) as e:
        if getattr(args, "debug", False):
            raise
        print(f"thalweg lab: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
