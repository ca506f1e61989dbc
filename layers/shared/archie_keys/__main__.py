"""`python -m archie_keys ...`: see archie_keys.cli."""

import sys

from archie_keys.cli import main

sys.exit(main())
