"""The operator's subcommands of `fixed-ip`: argparse wiring, output, exit codes.

    fixed-ip pool apply SPEC.yaml [--dry-run | --check] [--prune]
    fixed-ip pool status [--pool P] [--output json]
    fixed-ip doctor --group NAME [--stack fixed-ip | --function F --document D]

Every command takes the global options --region, --profile (standard boto3 resolution
otherwise, and AWS_ENDPOINT_URL for a local AWS) and --output. Handlers raise `CliError`s;
`fixed_ip_cli.main` reports them (one `error:` line plus one line per problem on stderr, or
a JSON document) and exits with their documented code."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from fixed_ip_cli import views
from fixed_ip_cli.doctor.model import DEFAULT_STACK
from fixed_ip_cli.enis import DEFAULT_HOST_NAME_TAG
from fixed_ip_cli.errors import EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK, NotFound

APPLY_HELP = """\
Create or update a pool of ENIs from a YAML spec (see examples/pool-seed.yaml).

Validates the whole spec first (subnets exist; every address inside its subnet and not
one of the 4 first or the last, which AWS reserves; host names RFC 1123 and unique;
no address used by an interface outside the pool), prints the plan, then applies it.
Plan actions:
  create     no ENI at that address yet: create it, tagged fixed-ip:pool, HostName, Name
  retag      the ENI exists with other HostName/Name tags: set them (an attached ENI's
             instance keeps its current name until it is replaced)
  unchanged  nothing to do
  drift      left alone and reported: a pool ENI that the spec does not list (without
             --prune, or attached), security groups that differ from the spec
  remove     with --prune: a pool ENI that the spec does not list and that is available
Running it twice changes nothing the second time. An attached ENI is never deleted."""

STATUS_HELP = """\
Show every pool ENI, per pool and AZ: address, host name, state, the instance holding it
with its Auto Scaling lifecycle state, and since when; totals free / in use per AZ.
Read-only."""

DOCTOR_HELP = """\
Check a deployment end to end, read-only, and print one pass/warn/fail line per check
with the fix: controller stack, functions and SSM document; the group's launch hook
(opt-in name prefix, DefaultResult ABANDON, heartbeat above the function timeout) and
terminate hook; the EventBridge rules (enabled, matching, targeting the functions) and
the functions' invoke permissions; pool ENIs in every AZ of the group and enough of them
for its max size plus the replacements' headroom, and for an instance refresh at its
MaxHealthyPercentage (checked before you start one: --max-healthy-percent P for the one
you plan); instances without a pool ENI, and pool ENIs kept by instances detached from
any group; the sweeper's schedule and the WAIT policy's bound against the launch hook's
heartbeat timeout.
The controller's names come from the stack's outputs (--stack, default fixed-ip); give
--function and --document to check a controller deployed otherwise."""


# ----------------------------------------------------------------------------- parsers


def register(sub: Any, add_globals: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `pool` and `doctor` to the `fixed-ip` subcommands; `add_globals` gives each
    parser the global options (--region, --profile, --output)."""

    def command(parent: Any, name: str, summary: str, description: str) -> Any:
        """A subcommand parser as every one of ours: the exit codes below its help text,
        which keeps its own line breaks, and the global options."""
        parser = parent.add_parser(
            name,
            help=summary,
            description=description,
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_globals(parser)
        return parser

    pool = command(
        sub,
        "pool",
        "create the pool of ENIs from a spec, or show who holds which address",
        "Manage pools of fixed-address ENIs.",
    )
    pool_sub = pool.add_subparsers(dest="pool_command", required=True, metavar="COMMAND")

    p = command(
        pool_sub, "apply", "create/retag the pool's ENIs from a YAML spec (idempotent)", APPLY_HELP
    )
    p.add_argument("spec", metavar="SPEC.yaml", help="pool spec, e.g. examples/pool-seed.yaml")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    mode.add_argument(
        "--check",
        action="store_true",
        help="like --dry-run, but exit 1 when anything would change or drift is found",
    )
    p.add_argument(
        "--prune",
        action="store_true",
        help="delete pool ENIs that the spec no longer lists (only available ones, never "
        "an attached ENI)",
    )
    p.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress on stderr (default: a bar on a terminal, else one line per change)",
    )
    p.set_defaults(func=cmd_pool_apply)

    p = command(
        pool_sub, "status", "who holds which address: per pool and AZ, with totals", STATUS_HELP
    )
    p.add_argument(
        "--pool", help="only this pool (default: every pool in the region); exit 4 if it has no ENI"
    )
    p.add_argument(
        "--host-name-tag",
        default=DEFAULT_HOST_NAME_TAG,
        help="ENI tag key holding the host name (the stack's HostNameTagKey; default HostName)",
    )
    p.set_defaults(func=cmd_pool_status)

    p = command(
        sub,
        "doctor",
        "check a deployment end to end: hooks, rule, function, document, pool",
        DOCTOR_HELP,
    )
    p.add_argument("--group", required=True, help="Auto Scaling group to check")
    p.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        help="the controller's CloudFormation stack, whose outputs name the function, "
        "document and rule (default: fixed-ip, samconfig.toml's stack_name)",
    )
    p.add_argument(
        "--function", help="launch (controller) function name (overrides the stack output)"
    )
    p.add_argument(
        "--terminate-function",
        help="terminate (release) function name (overrides the stack output)",
    )
    p.add_argument(
        "--sweeper-function",
        help="sweeper function name (overrides the stack output SweeperFunctionName)",
    )
    p.add_argument("--document", help="the controller's SSM document (overrides the stack output)")
    p.add_argument(
        "--hook-prefix",
        help="lifecycle hook name prefix (default: the function's FIXED_IP_HOOK_PREFIX, "
        "else fixed-ip)",
    )
    p.add_argument(
        "--pool",
        help="pool to check (default: the launch hook's metadata pool, else the group name)",
    )
    p.add_argument(
        "--max-healthy-percent",
        type=_percent,
        metavar="P",
        help="capacity headroom: the group may run P%% of its MaxSize while replacing "
        "instances, as the instance refresh you plan would (default: the group's "
        "InstanceMaintenancePolicy, else the stack's MaxHealthyPercent, else 110; for the "
        "refresh check, else 100, AWS's default for a refresh)",
    )
    p.set_defaults(func=cmd_doctor)


def _percent(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 100 <= value <= 200:
        raise argparse.ArgumentTypeError(f"expected a percentage from 100 to 200, got {text!r}")
    return value


# ------------------------------------------------------------------------------ apply


def cmd_pool_apply(args: argparse.Namespace) -> int:
    from fixed_ip_cli import awsutil
    from fixed_ip_cli.apply import apply_plan
    from fixed_ip_cli.pool import build_plan
    from fixed_ip_cli.render import Progress, to_json
    from fixed_ip_cli.spec import load_spec

    spec = load_spec(args.spec)  # every offline problem, before any AWS call
    session = awsutil.make_session(args.profile, args.region)
    ec2 = awsutil.client(session, "ec2")
    progress = Progress(enabled=not args.quiet)
    region = ec2.meta.region_name
    progress(
        f"reading pool {spec.pool} and {len(spec.subnets)} subnet(s) in {region} "
        f"({len(spec.addresses)} addresses in {spec.source})"
    )
    plan = build_plan(ec2, spec, prune=args.prune)
    dry = args.dry_run or args.check
    result = None
    if args.output == "text":
        print(views.format_plan(plan, region))
    if not dry and plan.changes:
        result = apply_plan(ec2, plan, progress)
    if args.output == "json":
        print(
            to_json(
                {
                    "pool": spec.pool,
                    "region": region,
                    "dry_run": dry,
                    "counts": plan.counts(),
                    "plan": [item.as_dict() for item in plan.items],
                    "applied": result.as_dict() if result else None,
                }
            )
        )
    else:
        print(views.apply_outcome(plan, result, dry=dry, check=args.check))
    if args.check and not plan.in_sync:
        return EXIT_FAILED
    return EXIT_OK


# ----------------------------------------------------------------------------- status


def cmd_pool_status(args: argparse.Namespace) -> int:
    from fixed_ip_cli.awsutil import make_session
    from fixed_ip_cli.render import to_json
    from fixed_ip_cli.status import pool_status

    session = make_session(args.profile, args.region)
    status = pool_status(session, args.pool, host_name_tag=args.host_name_tag)
    if args.pool is not None and not status["pools"]:
        others = ", ".join(status["others"]) or "none"
        raise NotFound(
            f"no ENI of pool {args.pool} in {session.region_name} (pools there: {others}): "
            "check --pool and --region, or create it with `fixed-ip pool apply SPEC.yaml`"
        )
    if args.output == "json":
        print(to_json(status))
    else:
        print(views.format_status(status, session.region_name))
    return EXIT_OK


# ----------------------------------------------------------------------------- doctor


def cmd_doctor(args: argparse.Namespace) -> int:
    from fixed_ip_cli.awsutil import make_session
    from fixed_ip_cli.doctor import FAIL, Options, run_checks
    from fixed_ip_cli.render import to_json

    session = make_session(args.profile, args.region)
    options = Options(
        group=args.group,
        stack=args.stack or None,
        function=args.function,
        terminate_function=args.terminate_function,
        sweeper_function=args.sweeper_function,
        document=args.document,
        hook_prefix=args.hook_prefix,
        pool=args.pool,
        max_healthy_percent=args.max_healthy_percent,
    )
    checks = run_checks(session, options)
    failed = any(c.status == FAIL for c in checks)
    if args.output == "json":
        print(
            to_json(
                {
                    "group": args.group,
                    "region": session.region_name,
                    "ok": not failed,
                    "checks": [c.as_dict() for c in checks],
                }
            )
        )
    else:
        print(views.format_checks(checks, args.group, session.region_name, options.stack))
    return EXIT_FAILED if failed else EXIT_OK
