import sys

from swarmdeck.cli.main import main

sys.exit(main())
