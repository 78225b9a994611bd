"""AWS adapters: boto3 clients behind the ports. Each takes its client from the caller
(the handler's composition root) and translates `ClientError` codes, never message
text, into the project's errors (the codes' table: fixed_ip.error_codes)."""

from __future__ import annotations

from fixed_ip.error_codes import error_code

__all__ = ["error_code"]
