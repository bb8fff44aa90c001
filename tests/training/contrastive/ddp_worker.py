"""Run by test_distributed.py under torchrun: the `dstrtd train encoder` command on one rank."""

import argparse
import sys

from installation.commands import train_encoder

parser = argparse.ArgumentParser()
train_encoder.add_arguments(parser)
sys.exit(train_encoder.run(parser.parse_args()))
