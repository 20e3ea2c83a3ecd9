"""The frozen `ntrbot` executable's entry point: the `ntrbot` command (ntrbot.cli.main)."""

import sys

from ntrbot.cli import main

if __name__ == "__main__":
    sys.exit(main())
