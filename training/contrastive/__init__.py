"""Contrastive image-text encoder training: CLIP, SogCLR and iSogCLR losses, LAMB and friends, warm-up schedules,
retrieval/zero-shot evaluation, DDP under torchrun, and Optuna search (seed 002).

Submodules are imported on use; importing this package loads nothing heavy.
"""
