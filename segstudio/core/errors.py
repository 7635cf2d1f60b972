"""Typed errors of the core layer. Every message names the file and what is wrong."""

from __future__ import annotations


class SegStudioError(Exception):
    """Base of all errors SegStudio reports to the user (CLI prints, GUI shows a dialog)."""


class ImageReadError(SegStudioError):
    """An image file could not be read (missing, unreadable, truncated, unsupported)."""


class MaskError(SegStudioError):
    """A mask file is unreadable or holds ids that the label set does not define."""


class LabelSetError(SegStudioError):
    """A label set (labels.json or preset) is malformed."""


class ProjectError(SegStudioError):
    """The project folder or its ``segstudio/`` store is inconsistent."""
