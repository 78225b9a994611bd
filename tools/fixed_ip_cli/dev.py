"""The development commands of `fixed-ip` (demo, invoke, local-aws). Their code lives in
`fixed_ip_local` (devtools/) and needs moto; it is imported only when one of them runs, so
an operator install without the development packages still has pool, status and doctor,
and these commands say what is missing instead of failing on an import."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fixed_ip_cli.errors import MissingExtra, UsageError

# Top-level packages the development commands import that an operator install lacks.
_DEV_MODULES = {"moto", "fixed_ip_local", "werkzeug", "flask", "responses"}


@contextmanager
def development_modules(command: str) -> Iterator[None]:
    """Turn a missing development package into one clear error naming the fix."""
    try:
        yield
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in _DEV_MODULES:
            raise
        raise MissingExtra(
            f"`fixed-ip {command}` needs the local simulated AWS ({missing} is not installed): "
            "install the `local` extra (pipx install 'fixed-ip[local]' or "
            "pip install '.[local]' in a clone), or run `make venv` in a clone"
        ) from exc


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} must be KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def cmd_invoke(args: argparse.Namespace) -> int:
    with development_modules("invoke"):
        from fixed_ip_local.lambda_runner import FunctionRunner, TemplateError, TemplateFunction

    try:
        event = json.loads(Path(args.event).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read event file {args.event}: {exc}") from exc
    try:
        function = TemplateFunction.from_template(
            args.function,
            parameters=_pairs(args.parameter_overrides, "--parameter-overrides"),
            resource_names={"ConfigureDocument": args.document},
        )
    except TemplateError as exc:
        raise UsageError(str(exc)) from exc
    runner = FunctionRunner(function, extra_env=_pairs(args.env, "--env"))
    try:
        result = runner.invoke(event)
    except Exception as exc:
        # What Lambda reports for a function error: the type and message, exit 1.
        print(json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}))
        return 1
    print(json.dumps(result, default=str))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    with development_modules("demo"):
        from fixed_ip_local import demo

    return int(demo.run(per_az=args.per_az, azs=args.azs, log_path=Path(args.log)))


def cmd_local_aws(args: argparse.Namespace) -> int:
    with development_modules("local-aws"):
        from fixed_ip_local import local_aws

    return int(local_aws.serve(host=args.host, port=args.port, pending=args.pending))


def register(sub: Any) -> None:
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
        help="name of the deployed SSM document (default: the local one)",
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
