"""`python -m ntrbot` is the `ntrbot` command."""

import sys

from ntrbot.tools.cli import main

sys.exit(main())
