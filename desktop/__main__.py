"""``python -m desktop``: the same as ``python -m desktop.app``."""

import sys

from desktop.app import main

sys.exit(main())
