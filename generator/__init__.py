"""VQGAN+CLIP: model configs and factory, weights, prompts, cutouts and the optimisation as an iterator of steps.

Imports nothing of ours. Importing this package is cheap: heavy modules load on first use.
"""
