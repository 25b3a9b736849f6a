"""Command line of the listening tests: build | serve | analyze (see advaudio.listen)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    import advaudio.listen

    top = argparse.ArgumentParser(prog="python -m advaudio.listen", description=advaudio.listen.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="write a blind test page for run folders")
    build.add_argument("runs", nargs="+", help="run folders; each is one condition")
    build.add_argument("--out", required=True, help="the test folder to write")
    build.add_argument("--excerpt-seconds", type=float, default=5.0)
    build.add_argument("--trials", type=int, default=None, help="rating trials (default: most samples of a run)")
    build.add_argument("--ab-per-pair", type=int, default=1, help="AB trials per pair of conditions")
    build.add_argument("--lower-anchor", choices=("lowpass", "noise"), default="lowpass")
    build.add_argument("--seed", type=int, default=0, help="chooses excerpts (stimulus ids are always random)")
    build.add_argument("--force", action="store_true", help="rebuild into a folder that holds a test")

    serve = commands.add_parser("serve", help="serve a test folder on 127.0.0.1 and store submissions")
    serve.add_argument("dir")
    serve.add_argument("--port", type=int, default=8000, help="0: any free port")
    serve.add_argument("--quiet", action="store_true", help="no request log")

    analyze = commands.add_parser("analyze", help="screen listeners and test the differences")
    analyze.add_argument("results", nargs="+", help="answer sheets (.json/.csv) or folders of them")
    analyze.add_argument("--key", default=None, help="key.json (default: next to the results folder)")
    analyze.add_argument("--out", default=None, help="where summary.md/.json and ratings.png go "
                                                     "(default: analysis/ next to key.json)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "build":
        from advaudio.evaluation.listening.build import BuildError, build

        try:
            key = build(args.runs, args.out, excerpt_seconds=args.excerpt_seconds, trials=args.trials,
                        seed=args.seed, ab_per_pair=args.ab_per_pair, lower_anchor=args.lower_anchor,
                        force=args.force)
        except BuildError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        out = Path(args.out)
        print(f"Wrote a test of {len(key['trials'])} trials ({len(key['stimuli'])} excerpts of "
              f"{key['excerpt_seconds']:.2f} s) to {out}. Serve it with: python -m advaudio.listen serve {out}\n"
              f"Keep {out / 'key.json'} away from listeners; `serve` never serves it.")
    elif args.command == "serve":
        from advaudio.evaluation.listening.serve import serve

        try:
            serve(args.dir, args.port, quiet=args.quiet)
        except FileNotFoundError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    else:
        from advaudio.evaluation.listening.analyze import analyze, find_key, markdown

        try:
            key_path = Path(args.key) if args.key else find_key(args.results)
        except FileNotFoundError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        out = Path(args.out) if args.out else key_path.parent / "analysis"
        summary = analyze(args.results, key_path, out)
        print(markdown(summary), end="")
        print(f"Wrote {out / 'summary.md'}, {out / 'summary.json'} and {out / 'ratings.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
