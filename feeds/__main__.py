"""``python -m feeds``: the same as the ``feeds`` command."""

import sys

from feeds.cli import main

sys.exit(main())
