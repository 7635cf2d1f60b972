"""Model layer (torch; never Qt): architectures, checkpoints, inference, training.

Import submodules explicitly; this package itself imports nothing heavy.
"""
