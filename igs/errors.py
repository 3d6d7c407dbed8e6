"""The igs exception hierarchy.

Library code raises these; only the CLI maps them to exit codes. A message says
what was received, what was expected, which file or item, and a hint.
"""

from __future__ import annotations


class IGSError(Exception):
    """Base class of every error igs raises on purpose."""

    exit_code = 1


class ConfigError(IGSError):
    """The configuration file is invalid (unknown key, wrong type, missing file)."""

    exit_code = 2


class InputFormatError(IGSError):
    """An input file is malformed, truncated, or inconsistent with its companions."""

    exit_code = 3


class MatchRateError(IGSError):
    """Too few scoring-file variants matched the target genotypes."""

    exit_code = 4


class ModelError(IGSError):
    """A model cannot be fitted: too few events, no convergence, separation, a constant score."""

    exit_code = 5


# Exit codes the CLI uses beyond these classes: 130 (interrupted), 143 (SIGTERM).
