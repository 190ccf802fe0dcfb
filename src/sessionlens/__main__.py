import sys

from sessionlens.cli import main

sys.exit(main())
