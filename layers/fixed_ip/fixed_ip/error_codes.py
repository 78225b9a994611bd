"""The one table of AWS error codes (EC2, SSM, Auto Scaling) and what each means for a
lifecycle action: retried, lost race, or definitive.

- RETRIED: throttling, server errors (also any HTTP 5xx), eventual consistency right
  after a launch or an attach. botocore retries them first; what is left is raised so
  that Lambda retries the event, which resumes idempotently.
- LOST_RACE: another actor changed the resource first. Only the adapter call that
  expects the race (the attach, the detach, the lifecycle action) can read it: it
  translates the code into the project's error and the claim re-reads and aims again.
- DEFINITIVE: asking again cannot change AWS's answer (limits, permissions, invalid
  parameters). A launch ends at once, ABANDON, with the code in its log line, instead of
  two Lambda retries, an instance waiting until the hook's timeout, and the sweeper
  meeting the same error later. Unknown codes are definitive: an error nobody foresaw
  is not made to look transient.

A lost-race code that escapes the adapter expecting it (the same code from another
call) is definitive too: only the call that expects the race knows how to resolve it.
Pure: no botocore import; exceptions are read through their `response`, as botocore
fills it."""

from __future__ import annotations

import traceback
from typing import Any

from fixed_ip.errors import AwsRefused

RETRIED = "retried"
LOST_RACE = "lost_race"
DEFINITIVE = "definitive"

# code -> (class, reason in the log line when the code ends a launch)
CODES: dict[str, tuple[str, str]] = {
    # Throttling (EC2 buckets per account and region; SSM and Auto Scaling alike).
    "RequestLimitExceeded": (RETRIED, "throttled"),
    "Throttling": (RETRIED, "throttled"),
    "ThrottlingException": (RETRIED, "throttled"),
    "ThrottledException": (RETRIED, "throttled"),
    "TooManyRequestsException": (RETRIED, "throttled"),
    "RequestThrottled": (RETRIED, "throttled"),
    "RequestThrottledException": (RETRIED, "throttled"),
    "SlowDown": (RETRIED, "throttled"),
    "PriorRequestNotComplete": (RETRIED, "throttled"),
    "BandwidthLimitExceeded": (RETRIED, "throttled"),
    # Server side (5xx, whatever the code: see `classify`).
    "InternalError": (RETRIED, "aws_server_error"),
    "InternalFailure": (RETRIED, "aws_server_error"),
    "InternalServerError": (RETRIED, "aws_server_error"),
    "InternalServerErrorException": (RETRIED, "aws_server_error"),
    "ServiceUnavailable": (RETRIED, "aws_server_error"),
    "ServiceUnavailableException": (RETRIED, "aws_server_error"),
    "Unavailable": (RETRIED, "aws_server_error"),
    "RequestTimeout": (RETRIED, "aws_server_error"),
    "RequestTimeoutException": (RETRIED, "aws_server_error"),
    "RequestExpired": (RETRIED, "aws_server_error"),
    # Eventual consistency: EC2 and SSM do not know a just-launched instance (or a
    # just-created ENI or attachment) yet, or it is between states.
    "InvalidInstanceID.NotFound": (RETRIED, "eventual_consistency"),
    "IncorrectInstanceState": (RETRIED, "eventual_consistency"),
    "IncorrectState": (RETRIED, "eventual_consistency"),
    "InvalidInstanceId": (RETRIED, "eventual_consistency"),  # SSM: agent not registered
    "InvocationDoesNotExist": (RETRIED, "eventual_consistency"),  # SSM: right after Send
    "ResourceContention": (RETRIED, "eventual_consistency"),  # Auto Scaling
    # Lost races (read by the adapter call that expects them).
    "InvalidNetworkInterface.InUse": (LOST_RACE, "eni_in_use"),
    "InvalidNetworkInterfaceID.NotFound": (LOST_RACE, "eni_gone"),
    # AttachNetworkInterface: the device index was taken by a duplicate delivery; the
    # claim re-reads and gives up (attach_refused) when it sees the index free.
    "InvalidParameterValue": (LOST_RACE, "attach_rejected"),
    "InvalidAttachmentID.NotFound": (LOST_RACE, "already_detached"),
    # Auto Scaling: no active lifecycle action for this token (completed already).
    "ValidationError": (LOST_RACE, "action_not_active"),
    # Definitive, with a specific reason.
    "AttachmentLimitExceeded": (DEFINITIVE, "attachment_limit_exceeded"),
    "UnauthorizedOperation": (DEFINITIVE, "access_denied"),
    "AccessDenied": (DEFINITIVE, "access_denied"),
    "AccessDeniedException": (DEFINITIVE, "access_denied"),
    "AuthFailure": (DEFINITIVE, "access_denied"),
    "OperationNotPermitted": (DEFINITIVE, "operation_not_permitted"),
    "InvalidParameterCombination": (DEFINITIVE, "invalid_parameter"),
    "InvalidParameter": (DEFINITIVE, "invalid_parameter"),
    "MissingParameter": (DEFINITIVE, "invalid_parameter"),
    "InvalidDocument": (DEFINITIVE, "invalid_document"),  # SSM: the stack's document
    "InvalidParameters": (DEFINITIVE, "invalid_parameter"),  # SSM document parameters
    "UnsupportedPlatformType": (DEFINITIVE, "unsupported_platform"),  # SSM
}
UNKNOWN_REASON = "aws_error"


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore `ClientError`; "" for any other exception."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return 0
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def classify(code: str, status: int = 0) -> str:
    """RETRIED, LOST_RACE or DEFINITIVE for an AWS error code (and its HTTP status: any
    5xx is retried); unknown codes are DEFINITIVE."""
    if status >= 500:
        return RETRIED
    return CODES.get(code, (DEFINITIVE, UNKNOWN_REASON))[0]


def definitive(exc: BaseException, what: str = "") -> AwsRefused | None:
    """The launch-ending failure for an AWS error that left its adapter untranslated,
    or None when it is not an AWS error or is worth retrying (raise it then). A lost-race
    code here did not come from the call that expects it: definitive too."""
    code = error_code(exc)
    if not code or classify(code, _status(exc)) == RETRIED:
        return None
    kind, reason = CODES.get(code, (DEFINITIVE, UNKNOWN_REASON))
    if kind != DEFINITIVE:
        reason = UNKNOWN_REASON
    message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", "")) or str(exc)
    prefix = f"{what}: " if what else ""
    return AwsRefused(f"{prefix}AWS answered {code}: {message}", reason=reason, aws_error=code)


def exception_fields(exc: BaseException) -> dict[str, Any]:
    """What a log line says about an unexpected exception: its type, message, AWS code
    (when it has one) and stack, so that CloudWatch shows what went wrong."""
    return {
        "error_type": type(exc).__name__,
        "detail": str(exc) or repr(exc),
        "aws_error": error_code(exc) or None,
        "stack": "".join(traceback.format_exception(exc)).rstrip(),
    }
