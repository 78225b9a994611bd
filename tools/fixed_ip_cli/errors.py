"""Errors of the operator CLI and the exit codes they map to.

Every expected failure is a `CliError` whose message names the resource and the fix; the
command line prints it as one line (no traceback), or as a JSON document with
`--output json`, and exits with its code."""

from __future__ import annotations

from typing import Any

# Exit codes, documented in `fixed-ip --help` and docs/cli.md.
EXIT_OK = 0
EXIT_FAILED = 1  # a doctor check failed; `pool apply --check` found changes or drift
EXIT_USAGE = 2  # bad arguments or an invalid pool spec (argparse also exits 2)
EXIT_AWS = 3  # AWS refused or could not be reached (credentials, region, permissions)
EXIT_NOT_FOUND = 4  # the pool named by --pool has no ENI in the region
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as a shell reports it
EXIT_CLOSED_PIPE = 141  # the reader of stdout went away (128 + SIGPIPE), e.g. `| head`

EXIT_CODES_HELP = """\
exit codes:
  0  success (doctor: no check failed; apply --check: nothing to change)
  1  doctor: a check failed; pool apply --check: changes or drift found
  2  usage error or invalid pool spec (nothing was changed)
  3  AWS error: no credentials or region, access denied, throttled, unreachable endpoint
  4  not found: the pool named by --pool has no ENI in the region
  141  stdout was closed early (e.g. `| head`); nothing else went wrong"""


class CliError(Exception):
    """An expected failure, printed as `error: <message>` with exit code `exit_code`."""

    exit_code = EXIT_USAGE

    def __init__(
        self, message: str, *, problems: list[str] | None = None, usage: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        # Further lines (one per problem), printed under the message.
        self.problems = problems or []
        # The command's usage line, for argument errors (argparse prints it first).
        self.usage = usage

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "type": type(self).__name__,
                "message": self.message,
                "problems": self.problems,
                "exit_code": self.exit_code,
            }
        }


class UsageError(CliError):
    """Bad arguments (a profile that does not exist, a file that cannot be read)."""

    exit_code = EXIT_USAGE


class SpecError(CliError):
    """The pool spec is invalid; `problems` lists every problem found, one per line."""

    exit_code = EXIT_USAGE


class AwsError(CliError):
    """AWS refused a call or could not be reached."""

    exit_code = EXIT_AWS


class NotFound(CliError):
    """What the operator named (a pool) does not exist."""

    exit_code = EXIT_NOT_FOUND


class MissingExtra(CliError):
    """A development command run from an install without the development packages."""

    exit_code = EXIT_USAGE
