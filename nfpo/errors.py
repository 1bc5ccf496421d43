"""User-facing error types. The CLI prints their message and exits with status 2."""


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
