"""`make local-aws`: the simulated AWS (moto + fidelity patches) served on a loopback
port, seeded with the demo's world and `pending` instances held in Pending:Wait, whose
lifecycle events are written to .local-aws/events/ for `fixed-ip invoke` or
`sam local invoke -e`. Patches hold because the server runs in this process."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from fixed_ip_local import moto_patches
from fixed_ip_local.world import World, build_world

REGION = "ap-northeast-1"


@dataclass
class LocalAws:
    server: Any
    endpoint: str
    world: World
    event_files: list[Path]

    def stop(self) -> None:
        self.server.stop()


def start(
    *, host: str = "127.0.0.1", port: int = 5000, pending: int = 1, out_dir: Path | None = None
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
    world = build_world(clients, per_az=3, azs=2)  # type: ignore[arg-type]
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
    print(
        f"local AWS (moto + fixed-ip fidelity patches) on {local.endpoint}, region {REGION}\n"
        f"seeded: pool {local.world.pool!r} ({len(local.world.enis)} ENIs), group "
        f"{local.world.group!r} with hook {local.world.hook!r}, {len(local.event_files)} "
        f"instance(s) in Pending:Wait\n\n"
        "In another shell:\n"
        f"  export AWS_ENDPOINT_URL={local.endpoint} AWS_REGION={REGION} "
        "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local\n"
        f"  .venv/bin/fixed-ip invoke LaunchFunction -e {first}\n"
        "  aws ec2 describe-network-interfaces --filters Name=tag-key,Values=fixed-ip:pool\n"
        "  # where Docker runs (Linux: the container shares the host's loopback):\n"
        f"  sam build && sam local invoke LaunchFunction -e {first} --docker-network host \\\n"
        f"    --parameter-overrides LocalEndpointUrl={local.endpoint} "
        "--env-vars .local-aws/env.json\n\n"
        "Ctrl-C stops it."
    )
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        local.stop()
    return 0
