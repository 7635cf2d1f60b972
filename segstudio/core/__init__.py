"""Headless core of SegStudio: numpy, OpenCV and PIL only — never Qt, never torch.

Submodules are imported explicitly (``from segstudio.core import masks``); this package
imports nothing heavy so that ``import segstudio.core`` stays cheap.
"""
