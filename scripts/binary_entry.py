"""The frozen `ntrbot` executable's entry point: the `ntrbot` command (ntrbot.tools.cli.main)."""

import sys

from ntrbot.tools.cli import main

if __name__ == "__main__":
    sys.exit(main())
