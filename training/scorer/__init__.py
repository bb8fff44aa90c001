"""How the aesthetic scorer is made: rated data, losses, the seed 000 schedule, the trainer, metrics and plots.

Import the submodules (`training.scorer.trainer`, `.losses`, ...); this package itself loads nothing heavy.
"""
