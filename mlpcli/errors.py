"""The exceptions mlpcli raises for problems a user can fix; ``cli`` maps them to exit codes.

Messages name the file or key at fault and say what to do about it.
"""


class MlpcliError(Exception):
    """Base class; exit code 1 (runtime, data or artifact problem)."""

    exit_code = 1


class ConfigError(MlpcliError):
    """The configuration or the command line is wrong; exit code 2, like a usage error."""

    exit_code = 2


class DataError(MlpcliError):
    """Input data is missing, unreadable or inconsistent."""


class ArtifactError(MlpcliError):
    """A run directory or model bundle is missing, damaged or incompatible."""


class TrainingDiverged(MlpcliError):
    """The loss became non-finite during training; ``epoch`` (1-based) says when, if known."""

    def __init__(self, message: str, epoch: int | None = None):
        super().__init__(message)
        self.epoch = epoch


class Interrupted(MlpcliError):
    """Stopped by SIGINT/SIGTERM after saving a checkpoint; exit code 130 like Ctrl-C."""

    exit_code = 130


class GateFailed(MlpcliError):
    """A quality gate (``evaluate --fail-under``) was not met; exit code 3, so CI can tell a model
    that is not good enough from one that could not be evaluated (1)."""

    exit_code = 3
