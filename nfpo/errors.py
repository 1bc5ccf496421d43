"""User-facing error types. The CLI prints their message and exits with status 2."""

import errno


class NfpoError(Exception):
    """Base class for every error nfpo raises on purpose (bad input, not a bug)."""


class ConfigError(NfpoError):
    """A configuration value is invalid; the message names the value and the accepted choices."""


class EnvError(NfpoError):
    """The environment cannot be created or is not supported."""


class CheckpointError(NfpoError):
    """A run directory or checkpoint is missing, truncated or does not match the config."""


class DivergenceError(NfpoError):
    """Training produced NaN/Inf or a metric left its allowed range."""


class ExportError(NfpoError):
    """Export failed, is not supported for this policy, or disagrees with PyTorch."""


def os_error_message(e: OSError, what: str) -> str:
    """One line for an OSError: what failed, the path, the reason and a hint."""
    name = errno.errorcode.get(e.errno or 0, "")
    hint = {errno.ENOSPC: "free disk space, then run again (a run continues with --resume)",
            errno.EROFS: "choose a writable location", errno.EACCES: "choose a writable location",
            errno.ENOTDIR: "a part of the path is a file"}.get(e.errno or 0, "")
    path = e.filename if e.filename is not None else ""
    return (f"cannot {what} {path}: {e.strerror or e}" + (f" [{name}]" if name else "")
            + (f" ({hint})" if hint else ""))
