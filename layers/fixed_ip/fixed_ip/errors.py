"""The project's errors: one base class, subclasses that carry their context.

Two families matter to the controller:
- `Definitive`: retrying cannot help; the lifecycle action is completed (usually ABANDON).
- everything else (including botocore errors after its own retries) is raised so that
  Lambda retries the event; the retry resumes idempotently.
"""

from __future__ import annotations

from typing import Any


class FixedIpError(Exception):
    """Base error; `context` holds the fields worth logging (never a token)."""

    reason = "error"

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class ConfigurationError(FixedIpError):
    """The function's environment is wrong: fix the stack parameters."""

    reason = "bad_configuration"


class InvalidEvent(FixedIpError):
    """The event is not a lifecycle action we manage; nothing is changed."""

    reason = "invalid_event"


class InvalidMetadata(InvalidEvent):
    """A real lifecycle action of a managed hook whose configuration (NotificationMetadata,
    or a group name that cannot name a pool) is wrong: the action is ABANDONed at once
    rather than left to time out, with the reason."""

    reason = "invalid_metadata"


class InvalidHostName(FixedIpError):
    """A host name failed RFC 1123 validation; it never reaches an instance."""

    reason = "invalid_host_name"


# --- Outcomes of adapters the use case reacts to -------------------------------------


class EniInUse(FixedIpError):
    """Another instance attached this ENI first (AWS `InvalidNetworkInterface.InUse`)."""

    reason = "eni_in_use"


class EniGone(FixedIpError):
    """The ENI was deleted between listing and attaching."""

    reason = "eni_gone"


class AttachRejected(FixedIpError):
    """AWS refused the attach as an invalid parameter: most often the device index is
    taken (a duplicate delivery won the race). The caller re-reads the instance."""

    reason = "attach_rejected"


# --- Definitive failures: the lifecycle action is completed ---------------------------


class Definitive(FixedIpError):
    """A failure that retrying cannot mend."""


class AwsRefused(Definitive):
    """AWS gave an answer that asking again cannot change (fixed_ip.error_codes): an
    attachment limit, a denied permission, an invalid parameter, an unknown code. The
    reason names the kind; `aws_error` carries the code for the log line."""

    def __init__(self, message: str, *, reason: str, aws_error: str, **context: Any) -> None:
        super().__init__(message, aws_error=aws_error, **context)
        self.reason = reason
        self.aws_error = aws_error


class ClaimFailure(Definitive):
    """The instance cannot get a pool ENI: always ABANDON."""


class InstanceGone(ClaimFailure):
    reason = "instance_gone"


class AttachRefused(ClaimFailure):
    """AWS keeps refusing the attach although the device index is free."""

    reason = "attach_refused"


class PoolExhausted(ClaimFailure):
    reason = "pool_exhausted"


class PoolNotInAz(ClaimFailure):
    """The pool has no ENI at all in the instance's AZ (unknown pool, or wrong AZ)."""

    reason = "pool_not_in_az"


class DeviceIndexOccupied(ClaimFailure):
    """A non-pool interface already sits at the configured device index."""

    reason = "device_index_occupied"


class BadHostNameTag(ClaimFailure):
    """The claimed ENI's host-name tag is missing or not a valid host name."""

    reason = "invalid_host_name"


class DocumentRefused(Definitive):
    """SSM refused the document's parameters (InvalidParameters): the stack's document
    and this controller disagree; retrying cannot help."""

    reason = "document_refused_parameters"


class InstanceStepFailure(Definitive):
    """The step on the instance (through SSM) failed: ABANDON, since the fixed address is
    not verified in the OS. `only_host_name` when nothing but the host name was at stake
    (the address was verified, or OsConfiguration is `skip`): then the operator's
    `OnHostnameFailure` policy decides."""

    only_host_name = False

    def __init__(self, message: str, *, only_host_name: bool | None = None, **context: Any):
        super().__init__(message, **context)
        if only_host_name is not None:
            self.only_host_name = only_host_name


class AgentNotOnline(InstanceStepFailure):
    reason = "ssm_agent_not_online"


class CommandFailed(InstanceStepFailure):
    reason = "command_failed"


class CommandTimedOut(InstanceStepFailure):
    reason = "command_timed_out"


class OsAddressFailed(InstanceStepFailure):
    """The instance's own verification says the fixed address is not configured (or it
    printed no verification at all)."""

    reason = "os_address_failed"


class HostnameFailed(InstanceStepFailure):
    """The address is verified but the host name could not be set."""

    reason = "host_name_failed"
    only_host_name = True


# --- Transient: raised so Lambda retries ---------------------------------------------


class Transient(FixedIpError):
    """Worth retrying later (the retry resumes where this one stopped)."""


class ClaimContention(Transient):
    reason = "claim_contention"


class InstanceNotReady(Transient):
    """EC2 does not show the instance yet (eventual consistency right after launch), or
    refuses the attach while it is still pending."""

    reason = "instance_not_ready"


class OutOfTime(Transient):
    """The invocation is about to time out; the retried event resumes the work."""

    reason = "out_of_time"
