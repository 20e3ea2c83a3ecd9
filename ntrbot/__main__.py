"""`python -m ntrbot` is the `ntrbot` command."""

import sys

from .cli import main

sys.exit(main())
