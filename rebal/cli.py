"""The `rebal` command line. The only module that prints.

Exit codes follow the architecture card: 0 ok, 1 findings, 2 usage or internal error
(`plan`: 0 nothing to do, 2 trades planned, 1 error). Heavy libraries (numpy, ccxt, web3)
are imported only inside the commands that need them, so `rebal check` starts fast.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rebal import __version__
from rebal.compiler.files import atomic_write

if TYPE_CHECKING:
    from rebal.compiler import CheckResult

log = logging.getLogger("rebal")

COMMANDS = ("check", "fmt", "compile", "explain", "schema", "simulate", "backends")


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with 'did you mean' for an unknown command."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if "invalid choice" in message:
            word = message.split("'")[1] if "'" in message else ""
            close = difflib.get_close_matches(word, _command_names(), n=1)
            if close:
                message += f" (did you mean `{close[0]}`?)"
        self.print_usage(sys.stderr)
        self.exit(2, f"rebal: error: {message}\n")


def _command_names() -> list[str]:
    from rebal import commands

    names = list(COMMANDS)
    for module in commands.modules():
        names.extend(getattr(module, "COMMANDS", ()))
    return names


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rebal", description="Rebalancing intents for crypto derivative positions: "
                "check, format, compile, explain and simulate .rebal specs.")
    p.add_argument("--version", action="version", version=f"rebal {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    c = sub.add_parser("check", help="parse and validate specs (no network)")
    c.add_argument("paths", nargs="+", help="files or directories (searched for *.rebal)")
    c.add_argument("--policy", help="a house policy file to check strategies against")
    c.add_argument("--markets", action="append", default=[], metavar="FILE",
                   help="a venue snapshot (`rebal venue snapshot`): check the venue's symbols, "
                   "instruments, sizes and fees offline; repeatable")
    c.add_argument("--format", choices=("text", "concise", "json", "sarif"), default="text")
    c.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    c.add_argument("--allow-path", action="append", default=[], metavar="DIR",
                   help="let specs read data files (replay CSVs) from DIR too (repeatable)")

    f = sub.add_parser("fmt", help="rewrite specs in canonical layout (comments kept)")
    f.add_argument("paths", nargs="+")
    f.add_argument("--check", action="store_true", help="only report files that would change")

    k = sub.add_parser("compile", help="emit the IR as canonical JSON with its content hash")
    k.add_argument("spec")
    k.add_argument("-o", "--output", help="write the IR here instead of stdout")

    e = sub.add_parser("explain", help="plain-language summary of what a spec will do")
    e.add_argument("spec")

    sub.add_parser("schema", help="print the JSON Schema of the IR")

    s = sub.add_parser("simulate", help="Monte Carlo / replay simulation on a sim venue")
    s.add_argument("spec", nargs="+", help="a spec; several specs or a folder: one comparison")
    s.add_argument("--venue", required=True)
    s.add_argument("--paths", type=int)
    s.add_argument("--seed", type=int)
    s.add_argument("--format", choices=("text", "json"), default="text")
    s.add_argument("--report", help="write a self-contained HTML report here")
    s.add_argument("--sweep", action="append", default=[],
                   help="vary a parameter over a grid, e.g. band=0.2:2:10 (repeatable)")
    s.add_argument("--allow-path", action="append", default=[], metavar="DIR",
                   help="let the spec read data files (replay CSVs) from DIR too (repeatable)")
    s.add_argument("--max-seconds", type=float, metavar="S",
                   help="stop the run after S seconds (exit 1, nothing written)")
    s.add_argument("--cluster", metavar="WHERE",
                   help="run on Dask: local, local:N (N worker processes) or tcp://HOST:PORT "
                   "(needs rebal[dask]; the same numbers as in process)")

    sub.add_parser("backends", help="list installed backends and their capabilities")

    from rebal import commands

    for module in commands.modules():
        module.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rebal` command; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="rebal: %(message)s")
    if args.command is None:
        _parser().print_help(sys.stdout)
        return 2
    try:
        handler = getattr(args, "handler", None) or globals()[f"_cmd_{args.command}"]
        code: int = handler(args, sys.stdout, sys.stderr)
        return code
    except KeyboardInterrupt:  # Ctrl-C before a command's own handling: the shell's 128 + 2
        print("rebal: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception:  # an internal error: say it is a bug, never a bare traceback
        print("error[I999]: rebal failed unexpectedly; this is a bug in rebal, please report it "
              "with the text below", file=sys.stderr)
        print(traceback.format_exc(), file=sys.stderr)
        return 2


# ---------------------------------------------------------------------------- helpers


def _spec_files(paths: Sequence[str]) -> Iterator[Path]:
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            yield from sorted(p.rglob("*.rebal"))
        else:
            yield p


def _capabilities() -> Mapping[str, object]:
    from rebal.backends import registry

    return registry.capabilities()


def _render(diags: list, sources: dict[str, str], fmt: str, nfiles: int, color: bool) -> str:  # type: ignore[type-arg]
    from rebal.dsl import render, render_machine

    if fmt == "json":
        return render_machine.render_json(diags)
    if fmt == "sarif":
        return render_machine.render_sarif(diags, tool_version=__version__)
    if fmt == "concise":
        body = render.render_concise(diags)
    else:
        body = render.render_text(diags, sources, color=color)
    summary = render.render_summary(diags, nfiles)
    return (body + ("\n" if body and not body.endswith("\n") else "") + summary).rstrip("\n")


def _load_one(spec: str, err: TextIO, res: CheckResult | None = None,
              allow_paths: Sequence[str] = ()) -> object | None:
    """The one strategy of ``spec``; print why not (diagnostics, none, several) otherwise."""
    from rebal.compiler import check_file

    if res is None:
        res = check_file(spec, capabilities=_capabilities(),  # type: ignore[arg-type]
                         allow_paths=allow_paths)
    if not res.ok:
        from rebal.dsl import render

        print(render.render_text(res.diagnostics, {res.file: res.source},
                                 color=err.isatty()), file=err)
        return None
    if len(res.strategies) != 1:
        names = ", ".join(s.name for s in res.strategies)
        print(f"{spec}: " + (f"holds {len(res.strategies)} strategies ({names}); this command "
                             "takes a file with one strategy, so split the file"
                             if res.strategies else "no strategy in this file"), file=err)
        return None
    return res.strategies[0]


# ---------------------------------------------------------------------------- commands


def _cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from rebal.compiler import check_file
    from rebal.compiler.api import policy_of

    diags: list = []  # type: ignore[type-arg]
    sources: dict[str, str] = {}
    policy = None
    if args.policy:
        pres = check_file(args.policy)
        policy = policy_of(pres)
        if policy is None:
            diags.extend(pres.diagnostics)
            sources[pres.file] = pres.source
            print(_render(diags, sources, args.format, 1, False), file=out)
            return 2
    files = list(_spec_files(args.paths))
    if not files:
        print("rebal: no .rebal files found in " + " ".join(args.paths), file=err)
        return 2
    missing = [f for f in files if not f.exists()]
    if missing:
        for f in missing:
            print(f"rebal: {f}: no such file", file=err)
        return 2
    caps = _capabilities()
    snapshots, seen = [], []
    if args.markets:
        from rebal.compiler import markets_file

        for m in args.markets:
            snap, bad = markets_file.load(m)
            diags.extend(bad)
            if snap is not None:
                snapshots.append(snap)
    for f in files:
        res = check_file(f, policy=policy, capabilities=caps,  # type: ignore[arg-type]
                         allow_paths=args.allow_path)
        sources[res.file] = res.source
        diags.extend(res.diagnostics)
        if snapshots:
            from rebal.compiler.venue_check import check_markets

            for low in res.lowered:
                if low.ir is not None:
                    seen.append(low.ir)
                    diags.extend(check_markets(low.ir, low.spans, snapshots))
    if snapshots:
        from rebal.compiler.venue_check import unmatched

        diags.extend(unmatched(snapshots, seen))
    color = args.color == "always" or (args.color == "auto" and out.isatty())
    text = _render(diags, sources, args.format, len(files), color)
    if text:
        out.write(text if text.endswith("\n") else text + "\n")
    return 1 if any(d.severity.value == "error" for d in diags) else 0


def _cmd_fmt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from rebal.dsl import render
    from rebal.dsl.fmt import format_source

    changed, failed = [], False
    for f in _spec_files(args.paths):
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"rebal: {f}: cannot read: {exc}", file=err)
            failed = True
            continue
        new, diags = format_source(text, str(f))
        if new is None:
            print(render.render_text(diags, {str(f): text}), file=err)
            failed = True
            continue
        if new != text:
            changed.append(f)
            if args.check:
                print(f"would reformat {f}", file=out)
            else:
                atomic_write(f, new)
                print(f"reformatted {f}", file=out)
    if failed:
        return 1
    return 1 if (args.check and changed) else 0


def _cmd_compile(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from rebal.compiler.canonical import canonical_json, content_hash

    strategy = _load_one(args.spec, err)
    if strategy is None:
        return 1
    text = canonical_json(strategy)  # type: ignore[arg-type]
    digest = content_hash(text)
    if args.output:
        atomic_write(Path(args.output), text + "\n")
        print(f"wrote {args.output}  sha256:{digest}", file=out)
    else:
        print(text, file=out)
        print(f"sha256:{digest}", file=err)
    return 0


def _cmd_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from rebal.compiler import check_file
    from rebal.compiler.explain import explain, explain_policy
    from rebal.dsl.safe_text import visible  # strings from the spec: control characters shown

    res = check_file(args.spec, capabilities=_capabilities())  # type: ignore[arg-type]
    if res.ok and not res.strategies and res.policies:
        print(visible(explain_policy(res.policies[0]).rstrip("\n"), keep_newlines=True),
              file=out)
        return 0
    strategy = _load_one(args.spec, err, res)
    if strategy is None:
        return 1
    text = explain(strategy).rstrip("\n")  # type: ignore[arg-type]
    print(visible(text, keep_newlines=True), file=out)
    return 0


def _cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from rebal.compiler.canonical import ir_schema_json

    print(ir_schema_json(), file=out)
    return 0


def _cmd_simulate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if len(args.spec) > 1 or Path(args.spec[0]).is_dir():
        return _simulate_many(args, out, err)
    strategy = _load_one(args.spec[0], err, allow_paths=args.allow_path)
    if strategy is None:
        return 1
    try:
        from rebal.backends.sim.command import run_simulate
    except ImportError as exc:
        print(f"rebal: the simulator needs numpy and scipy ({exc.name} is missing); "
              "install them with `pip install 'rebal[sim]'`", file=err)
        return 2
    return run_simulate(strategy, args.venue, paths=args.paths, seed=args.seed, fmt=args.format,
                        report=args.report, sweep=args.sweep, out=out, err=err,
                        base_dir=Path(args.spec[0]).parent, allow_paths=args.allow_path,
                        max_seconds=args.max_seconds, cluster=args.cluster)


def _simulate_many(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Several specs (or a folder): every strategy on its sim venue, one comparison table."""
    from rebal.compiler import check_file

    if args.sweep or args.report:
        print("error: --sweep and --report take one spec", file=err)
        return 2
    try:
        from rebal.backends.sim.compare import run_compare
    except ImportError as exc:
        print(f"rebal: the simulator needs numpy and scipy ({exc.name} is missing); "
              "install them with `pip install 'rebal[sim]'`", file=err)
        return 2
    entries: list[tuple[str, object | None]] = []  # (file, strategy or None: did not compile)
    for path in _spec_files(args.spec):
        res = check_file(str(path), capabilities=_capabilities(),  # type: ignore[arg-type]
                         allow_paths=args.allow_path)
        if not res.ok:
            _load_one(str(path), err, res)  # prints the diagnostics
            entries.append((str(path), None))
        entries += [(str(path), s) for s in res.strategies]  # a policy file adds none
    if not entries:
        print("rebal: no .rebal files found in " + " ".join(args.spec), file=err)
        return 2
    return run_compare(entries, args.venue, paths=args.paths, seed=args.seed, fmt=args.format,
                       cluster=args.cluster, allow_paths=args.allow_path,
                       max_seconds=args.max_seconds, out=out, err=err)


def _cmd_backends(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from rebal.backends import registry
    from rebal.compiler.capabilities import FEATURES

    caps = registry.capabilities()
    names = sorted(caps)
    width = max(len(w) for w in FEATURES.values())
    print(f"{'feature':<{width}}  " + "  ".join(f"{n:<11}" for n in names), file=out)
    for feat, words in FEATURES.items():
        cells = "  ".join(f"{caps[n].of(feat):<11}" for n in names)
        print(f"{words:<{width}}  {cells}", file=out)
    for n in names:
        print(f"\n{n}: {caps[n].summary}", file=out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
