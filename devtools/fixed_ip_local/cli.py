"""`fixed-ip`: the operator's commands and the local development commands.

operators (real AWS, or a local one through AWS_ENDPOINT_URL):
  fixed-ip pool apply SPEC.yaml      create/retag the pool's ENIs from a spec (idempotent)
  fixed-ip pool status               who holds which address, per pool and AZ
  fixed-ip doctor --group NAME       check a deployment end to end, with the fix for each

development:
  fixed-ip demo                      the seed scenario on the local simulated AWS
  fixed-ip invoke FUNCTION -e FILE   run a function of template.yaml once, as Lambda would
  fixed-ip local-aws                 serve the simulated AWS on a loopback port

`fixed-ip COMMAND --help` describes each command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fixed_ip_cli import commands as operator_commands
from fixed_ip_cli.errors import EXIT_CODES_HELP


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: {what} must be KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def cmd_invoke(args: argparse.Namespace) -> int:
    from fixed_ip_local.lambda_runner import FunctionRunner, TemplateError, TemplateFunction

    try:
        event = json.loads(Path(args.event).read_text())
    except (OSError, ValueError) as exc:
        print(f"error: cannot read event file {args.event}: {exc}", file=sys.stderr)
        return 2
    try:
        function = TemplateFunction.from_template(
            args.function,
            parameters=_pairs(args.parameter_overrides, "--parameter-overrides"),
            resource_names={"ConfigureDocument": args.document},
        )
    except TemplateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runner = FunctionRunner(function, extra_env=_pairs(args.env, "--env"))
    try:
        result = runner.invoke(event)
    except Exception as exc:
        print(json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}))
        return 1
    print(json.dumps(result, default=str))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fixed_ip_local import demo

    return demo.run(per_az=args.per_az, azs=args.azs, log_path=Path(args.log))


def cmd_local_aws(args: argparse.Namespace) -> int:
    from fixed_ip_local import local_aws

    return local_aws.serve(host=args.host, port=args.port, pending=args.pending)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fixed-ip",
        description=__doc__,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    operator_commands.register(sub)

    p = sub.add_parser("invoke", help="run a function of template.yaml with an event file")
    p.add_argument("function", help="logical id in template.yaml, e.g. LaunchFunction")
    p.add_argument("-e", "--event", required=True, help="event JSON file, e.g. events/launch.json")
    p.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, as for sam deploy",
    )
    p.add_argument(
        "--env",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment variables for the function",
    )
    p.add_argument(
        "--document",
        default="fixed-ip-ConfigureDocument",
        help="name of the deployed host-name SSM document (default: the local one)",
    )
    p.set_defaults(func=cmd_invoke)

    p = sub.add_parser("demo", help="the seed scenario on the local simulated AWS")
    p.add_argument("--per-az", type=int, default=3, help="pool ENIs per AZ (default 3)")
    # Two AZs at least: the last step strands an ENI in another AZ than the lost launch's.
    p.add_argument("--azs", type=int, default=2, choices=[2, 3], help="AZs (default 2)")
    p.add_argument("--log", default=".demo/controller.log", help="where the JSON logs go")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("local-aws", help="serve the simulated AWS on a loopback port")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument(
        "--pending",
        type=int,
        default=1,
        help="instances to launch into Pending:Wait, with their events written "
        "to .local-aws/events/ (default 1)",
    )
    p.set_defaults(func=cmd_local_aws)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
