"""Errors the scripts turn into one clear line and a non-zero exit instead of a traceback."""


class MattingError(Exception):
    """Base class: a problem the user can fix (bad input, bad config, missing file)."""


class ConfigError(MattingError, ValueError):
    """A config value is invalid (names the key and the value)."""


class DataError(MattingError):
    """A dataset path is missing or empty, or a file in it is unreadable (names the path)."""


class CheckpointError(MattingError, FileNotFoundError):
    """A model checkpoint or exported artifact is missing or unusable (names the path)."""
