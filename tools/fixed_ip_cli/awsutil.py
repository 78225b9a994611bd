"""boto3 sessions for the CLI and the translation of botocore errors into one-line
`AwsError`s that name the call, the resource and the fix."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from fixed_ip.adapters import error_code
from fixed_ip_cli.errors import AwsError, UsageError

# Describe calls share a per-region token bucket with every other tool of the account
# (docs/design.md section 5): standard retries back off on throttling instead of failing.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})

_ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
}
_BAD_CREDENTIALS = {
    "AuthFailure",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "RequestExpired",
}
_THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"}


def make_session(profile: str | None = None, region: str | None = None) -> Any:
    """A boto3 session with the standard resolution (environment, ~/.aws/config, SSO,
    instance role); `AWS_ENDPOINT_URL` is honoured by boto3 itself. The region is --region,
    else AWS_REGION (which the AWS CLI v2 and the other SDKs read, botocore does not), else
    AWS_DEFAULT_REGION or the profile's."""
    region = region or os.environ.get("AWS_REGION") or None
    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as exc:
        raise UsageError(
            f"AWS profile {profile!r} not found: check --profile / AWS_PROFILE against "
            "`aws configure list-profiles`"
        ) from exc


def client(session: Any, service: str) -> Any:
    with aws_errors(f"creating the {service} client"):
        return session.client(service, config=CLIENT_CONFIG)


@contextlib.contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Turn botocore errors raised inside the block into an `AwsError` whose message says
    what was being done and how to fix it."""
    try:
        yield
    except NoRegionError as exc:
        raise AwsError(
            f"{doing}: no AWS region: pass --region REGION or set AWS_REGION "
            "(or `region` in your profile)"
        ) from exc
    except NoCredentialsError as exc:
        raise AwsError(
            f"{doing}: no AWS credentials: pass --profile NAME, run `aws configure` or "
            "`aws sso login`, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from exc
    except EndpointConnectionError as exc:
        raise AwsError(
            f"{doing}: cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}: "
            "check the network, --region, and AWS_ENDPOINT_URL if you set it"
        ) from exc
    except ClientError as exc:
        raise AwsError(describe_client_error(doing, exc)) from exc
    except BotoCoreError as exc:
        # SSO token expired, credential process failed, ...: botocore's message says which.
        raise AwsError(f"{doing}: {exc}") from exc


def describe_client_error(doing: str, exc: ClientError) -> str:
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "")
    operation = getattr(exc, "operation_name", "") or "the call"
    text = f"{doing}: {code}: {message}".rstrip(": ")
    if code in _ACCESS_DENIED:
        return f"{text} (fix: allow {operation} for your credentials, or use another --profile)"
    if code in _BAD_CREDENTIALS:
        return f"{text} (fix: refresh your credentials, e.g. `aws sso login`, or check --profile)"
    if code in _THROTTLED:
        return f"{text} (fix: AWS is throttling this account; wait a minute and run it again)"
    return text


def paginate(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item under `key` of every page of a paginated describe/list call."""
    paginator = client.get_paginator(operation)
    return [item for page in paginator.paginate(**kwargs) for item in page.get(key, [])]


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    """EC2 `TagSet` / `Tags` lists as a dict."""
    items = resource.get("TagSet") or resource.get("Tags") or []
    return {t["Key"]: t["Value"] for t in items}
