"""How the curators are made: datasets, losses, schedules, trainers, evaluation and hyper-parameter search."""
