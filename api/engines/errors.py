"""The one exception the embedded engines raise."""

from __future__ import annotations


class EngineError(RuntimeError):
    """An embedded engine could not be started or used.

    The message is meant for the person running ``loupe serve``: it names the engine and the
    directory, and when the engine itself failed it ends with the last lines of its log, so the
    cause is visible without opening another file.
    """
