import sys

from installation.cli import main

sys.exit(main())
