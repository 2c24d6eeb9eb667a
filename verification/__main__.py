"""`python -m verification`: the gate's command line (verification.command_line.main)."""

import sys

from verification.command_line.main import main

if __name__ == "__main__":
    sys.exit(main())
