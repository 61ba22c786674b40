"""``python -m thermogan``: the command line, as a module (what ``torchrun -m thermogan`` runs)."""

import sys

from thermogan.cli import main

sys.exit(main())
