"""Exceptions raised by rtecho. Every message is one line a user can act on."""

from __future__ import annotations


class RtechoError(Exception):
    """Base class of every error rtecho raises on purpose."""


class MissingExtraError(RtechoError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class SourceError(RtechoError):
    """A source could not be opened or read (missing, corrupt, truncated, unsupported)."""


class FrameError(RtechoError, ValueError):
    """A frame has the wrong shape, dtype or value range."""


class EngineError(RtechoError):
    """An engine could not be built, loaded or run (corrupt file, hash mismatch, bad backend)."""


class ModelCardError(RtechoError, ValueError):
    """A model card is missing, malformed or does not match its model file."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (at most ``limit`` characters), for one-line errors."""
    text = str(exc).strip().splitlines()
    return text[0][:limit] if text else type(exc).__name__
