"""Training: losses, datasets with paired augmentation, the epoch loop, fine-tuning by class name."""
