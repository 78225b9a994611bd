"""Errors of the operator CLI and the exit codes they map to.

Every expected failure is a `CliError` whose message names the resource and the fix; the
command line prints it as one line (no traceback) and exits with its code."""

from __future__ import annotations

# Exit codes, documented in `fixed-ip --help` and the README.
EXIT_OK = 0
EXIT_FAILED = 1  # a doctor check failed; `pool apply --check` found changes or drift
EXIT_USAGE = 2  # bad arguments or an invalid pool spec (argparse also exits 2)
EXIT_AWS = 3  # AWS refused or could not be reached (credentials, region, permissions)

EXIT_CODES_HELP = """\
exit codes:
  0  success (doctor: no check failed; apply --check: nothing to change)
  1  doctor: a check failed; pool apply --check: changes or drift found
  2  usage error or invalid pool spec (nothing was changed)
  3  AWS error: no credentials or region, access denied, throttled, unreachable endpoint"""


class CliError(Exception):
    """An expected failure, printed as `error: <message>` with exit code `exit_code`."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Further lines (one per problem), printed under the message.
        self.problems = problems or []

    def __str__(self) -> str:
        return self.message


class UsageError(CliError):
    """Bad arguments (a profile that does not exist, a file that cannot be read)."""

    exit_code = EXIT_USAGE


class SpecError(CliError):
    """The pool spec is invalid; `problems` lists every problem found, one per line."""

    exit_code = EXIT_USAGE


class AwsError(CliError):
    """AWS refused a call or could not be reached."""

    exit_code = EXIT_AWS
