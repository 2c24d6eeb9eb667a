"""`python -m verification`: the gate's command line (verification.command_line.main)."""

import os
import sys

# `python -m` puts the current folder first on the path, where a user's own reference.py may
# lie: the gate's own packages come first (the user's modules are imported by the child
# process, on the user's path: verification.gate.loading).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from verification.command_line.main import main

if __name__ == "__main__":
    sys.exit(main())
