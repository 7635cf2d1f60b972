"""Segmentation architectures, one family per module; registered in ``segstudio.models.registry``."""
