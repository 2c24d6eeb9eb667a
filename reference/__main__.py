"""`python -m reference`: the reference's command-line programs, in reference/programs/."""

import sys

from reference.programs.main import main

if __name__ == "__main__":
    sys.exit(main())
