"""`fixed-ip`: the operator's commands and the local development commands.

operators (real AWS, or a local one through AWS_ENDPOINT_URL):
  fixed-ip pool apply SPEC.yaml      create/retag the pool's ENIs from a spec (idempotent)
  fixed-ip pool status               who holds which address, per pool and AZ
  fixed-ip doctor --group NAME       check a deployment end to end, with the fix for each

development (need the `local` extra, or a clone's `make venv`):
  fixed-ip demo                      the seed scenario on the local simulated AWS
  fixed-ip invoke FUNCTION -e FILE   run a function of template.yaml once, as Lambda would
  fixed-ip local-aws                 serve the simulated AWS on a loopback port

--region, --profile and --output go before or after the command.
`fixed-ip COMMAND --help` describes each command; docs/cli.md is the full reference.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata
from typing import Any, NoReturn

from fixed_ip_cli import commands, dev
from fixed_ip_cli.errors import (
    EXIT_CLOSED_PIPE,
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    CliError,
    UsageError,
)
from fixed_ip_cli.render import to_json


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are `UsageError`s, so that they are reported like every
    other error (as JSON with --output json) instead of argparse printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, usage=self.format_usage())


def version() -> str:
    try:
        return metadata.version("fixed-ip")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown (not installed)"


def add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """--region, --profile, --output on the top parser (with the defaults) and again on each
    operator command (defaults suppressed, so a value given before the command survives
    when it is not repeated after it)."""

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument(
        "--region",
        default=default(None),
        help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)",
    )
    group.add_argument(
        "--profile",
        default=default(None),
        help="named profile from ~/.aws/config (default: AWS_PROFILE)",
    )
    group.add_argument(
        "--output",
        "-o",
        choices=["text", "json"],
        default=default("text"),
        help="text: tables for the terminal (default); json: one JSON document on stdout, "
        "errors included",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="fixed-ip",
        description=__doc__,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.register(sub, lambda p: add_global_options(p, top=False))
    dev.register(sub)
    return parser


def wants_json(argv: list[str]) -> bool:
    """Whether the command line asks for JSON, read without argparse: an argument error
    must be reported in the format asked for, and argparse fails before it knows."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg in {"--output", "-o"} and i + 1 < len(argv):
            if argv[i + 1] == "json":
                return True
        elif arg in {"--output=json", "-ojson", "-o=json"}:
            return True
    return False


def report(exc: CliError, *, as_json: bool) -> None:
    if as_json:
        # One JSON document on stdout, as for a result: `| jq` sees the error too.
        print(to_json(exc.as_dict()))
        return
    if exc.usage:
        print(exc.usage.rstrip(), file=sys.stderr)
    print(f"error: {exc.message}", file=sys.stderr)
    for problem in exc.problems:
        print(f"  - {problem}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = wants_json(argv)
    try:
        args = build_parser().parse_args(argv)
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, while its error can still be handled
        return code
    except CliError as exc:
        report(exc, as_json=as_json)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader left (`fixed-ip pool status | head`): not an error of ours. Point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_CLOSED_PIPE


if __name__ == "__main__":
    sys.exit(main())
