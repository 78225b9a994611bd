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


def test_item10_terminate_function_builds_no_ssm_client(aws, monkeypatch):
    built = _clients_built(monkeypatch, function("TerminateFunction"))
    assert sorted(built) == ["autoscaling", "ec2"]


def test_item10_launch_function_still_builds_its_ssm_client(aws, monkeypatch):
    built = _clients_built(monkeypatch, function("LaunchFunction"))
    assert sorted(built) == ["autoscaling", "ec2", "ssm"]
