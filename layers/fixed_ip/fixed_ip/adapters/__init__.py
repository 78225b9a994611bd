"""AWS adapters: boto3 clients behind the ports. Each takes its client from the caller
(the handler's composition root) and translates `ClientError` codes, never message
text, into the project's errors."""

from __future__ import annotations


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore `ClientError`; "" for any other exception."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
