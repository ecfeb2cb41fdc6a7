"""``python -m detector`` runs the ``cramp`` command."""

import sys

from detector.cli.main import main

sys.exit(main())
