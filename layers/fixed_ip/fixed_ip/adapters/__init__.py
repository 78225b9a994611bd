"""AWS adapters: boto3 clients behind the ports. Each takes its client from the caller
(the handler's composition root) and translates `ClientError` codes, never message
text, into the project's errors."""

from __future__ import annotations

from botocore.exceptions import ClientError


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
