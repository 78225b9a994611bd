"""`make local-aws`: the simulated AWS (moto + fidelity patches) served on a loopback
port, holding what the documented walkthrough (docs/local-development.md) expects:

- the example environment of examples/seed-environment.yaml: VPC `fixed-ip-example`
  (10.0.0.0/16) with subnets `fixed-ip-example-a` / `-c` (10.0.0.0/24, 10.0.1.0/24), and the
  group `web` (max 6) with the hooks `fixed-ip-launch` (ABANDON, 900 s, `{"pool": "web"}`)
  and `fixed-ip-terminate`;
- the controller stack `fixed-ip` "deployed" (local_stack.py) with the stack's SSM document,
  so `fixed-ip doctor --group web` finds it;
- `pending` instances held in Pending:Wait, whose lifecycle events are written to
  .local-aws/events/ for `fixed-ip invoke` or `sam local invoke -e`.

- the pool `web` of examples/pool-seed.yaml (server-a1..a3, server-c1..c3), created before
  the group's first launch as the example stack does (an instance launched first would take
  10.0.0.4 as its primary address), so `fixed-ip pool apply examples/pool-seed.yaml` finds
  it as written: nothing to change.

Patches hold because the server runs in this process."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from fixed_ip_local import local_stack, moto_patches
from fixed_ip_local.world import World, build_world

REGION = "ap-northeast-1"
# One name everywhere: examples/pool-seed.yaml, examples/seed-environment.yaml, the demo.
ENVIRONMENT = "fixed-ip-example"
GROUP = POOL = "web"
# The example group's InstanceMaintenancePolicy MaxHealthyPercentage is 100 (moto does not
# model the policy): the stack is deployed with the same headroom, so doctor computes the
# pool's need as it would for the example (3 per AZ for max 6 over 2 AZs).
STACK_PARAMETERS = {"MaxHealthyPercent": "100"}


@dataclass
class LocalAws:
    server: Any
    endpoint: str
    world: World
    event_files: list[Path]

    def stop(self) -> None:
        self.server.stop()


def start(
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    pending: int = 1,
    out_dir: Path | None = None,
    with_pool: bool = True,
) -> LocalAws:
    from moto.moto_api._internal.models import moto_api_backend
    from moto.server import ThreadedMotoServer

    if not host.startswith("127.") and host not in {"localhost", "::1"}:
        raise SystemExit(f"error: local-aws serves on loopback only, not {host}")
    moto_patches.apply()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    endpoint = f"http://{host}:{port}"
    # Backends live in this process: start from an empty AWS, as a fresh server would.
    moto_api_backend.reset()
    session = boto3.Session(
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
    )
    clients = _EndpointSession(session, endpoint)
    events: list[dict[str, Any]] = []
    moto_patches.add_lifecycle_listener(events.append)
    world = build_world(
        clients,  # type: ignore[arg-type]
        group=GROUP,
        pool=POOL,
        per_az=3 if with_pool else 0,
        azs=2,
        metadata={"pool": POOL},
        terminate_hook=True,
    )
    _name_environment(clients.client("ec2"), world)
    local_stack.deploy(clients, document=world.document, parameters=STACK_PARAMETERS)
    if pending:
        clients.client("autoscaling").set_desired_capacity(
            AutoScalingGroupName=world.group, DesiredCapacity=pending
        )
    moto_patches.clear_lifecycle_listeners()
    out_dir = out_dir or Path(".local-aws/events")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for event in events:
        path = out_dir / f"launch-{event['detail']['EC2InstanceId']}.json"
        path.write_text(json.dumps(event, indent=2) + "\n")
        files.append(path)
    # sam local invoke: the document's local name (sam would resolve !Ref to the logical id)
    env_file = out_dir.parent / "env.json"
    env_file.write_text(
        json.dumps({"LaunchFunction": {"FIXED_IP_DOCUMENT": world.document}}, indent=2) + "\n"
    )
    return LocalAws(server, endpoint, world, files)


def _name_environment(ec2: Any, world: World) -> None:
    """Name tags as examples/seed-environment.yaml sets them (subnets `<name>-a`, `-c`)."""
    ec2.create_tags(Resources=[world.vpc_id], Tags=[{"Key": "Name", "Value": ENVIRONMENT}])
    for az, subnet in world.subnets.items():
        name = f"{ENVIRONMENT}-{az[-1]}"
        ec2.create_tags(Resources=[subnet], Tags=[{"Key": "Name", "Value": name}])


class _EndpointSession:
    """A boto3 session whose clients all talk to the local endpoint."""

    def __init__(self, session: Any, endpoint: str) -> None:
        self.session, self.endpoint = session, endpoint
        self.region_name = session.region_name

    def client(self, name: str, **kw: Any) -> Any:
        return self.session.client(name, endpoint_url=self.endpoint, **kw)


def serve(*, host: str = "127.0.0.1", port: int = 5000, pending: int = 1) -> int:
    local = start(host=host, port=port, pending=pending)
    first = local.event_files[0] if local.event_files else "events/launch.json"
    pool = (
        f"pool {local.world.pool!r} ({len(local.world.enis)} ENIs)"
        if local.world.enis
        else f"no pool ENI (pool {local.world.pool!r})"
    )
    print(
        f"local AWS (moto + fixed-ip fidelity patches) on {local.endpoint}, region {REGION}\n"
        f"holds: VPC {ENVIRONMENT!r} with subnets {ENVIRONMENT}-a / -c, group "
        f"{local.world.group!r} with hooks {local.world.hook!r} and 'fixed-ip-terminate', "
        f"controller stack {local_stack.STACK!r}, {pool}, {len(local.event_files)} "
        f"instance(s) in Pending:Wait\n\n"
        "In another shell (docs/local-development.md):\n"
        f"  export AWS_ENDPOINT_URL={local.endpoint} AWS_REGION={REGION} "
        f"AWS_DEFAULT_REGION={REGION} \\\n"
        "         AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local\n"
        "  .venv/bin/fixed-ip pool apply examples/pool-seed.yaml --check\n"
        f"  .venv/bin/fixed-ip invoke LaunchFunction -e {first}\n"
        f"  .venv/bin/fixed-ip pool status --pool {local.world.pool}\n"
        f"  .venv/bin/fixed-ip doctor --group {local.world.group}\n"
        "  aws ec2 describe-network-interfaces --filters Name=tag-key,Values=fixed-ip:pool\n"
        "  # where Docker runs (Linux: the container shares the host's loopback):\n"
        f"  sam build && sam local invoke LaunchFunction -e {first} --docker-network host \\\n"
        f"    --parameter-overrides LocalEndpointUrl={local.endpoint} "
        "--env-vars .local-aws/env.json\n\n"
        "Ctrl-C stops it.",
        flush=True,
    )
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        local.stop()
    return 0
