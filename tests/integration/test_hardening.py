"""Issue 11 (hardening) on the functions of template.yaml, on moto with the patches."""

from __future__ import annotations

import boto3

from tests.integration.test_release_and_sweeper import function


def _clients_built(monkeypatch, runner) -> list[str]:
    built: list[str] = []
    real = boto3.session.Session.client

    def recording(self, service_name, *args, **kwargs):
        built.append(service_name)
        return real(self, service_name, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", recording)
    runner.prepare()
    runner.module.controller.cache_clear()
    runner.module.controller()
    return built


def test_item10_terminate_function_builds_the_ssm_client_its_release_path_uses(aws, monkeypatch):
    """Issue 11 item 10 said the terminate function built an SSM client it never used.
    Since issue 13 the release path hands a freed address to the instance waiting for it
    through the launch path, which sends the document: the client is used now (see
    tests/integration/test_group_life.py), and it is the only client it builds."""
    built = _clients_built(monkeypatch, function("TerminateFunction"))
    assert sorted(built) == ["autoscaling", "ec2", "ssm"]


def test_item10_launch_function_still_builds_its_ssm_client(aws, monkeypatch):
    built = _clients_built(monkeypatch, function("LaunchFunction"))
    assert sorted(built) == ["autoscaling", "ec2", "ssm"]
