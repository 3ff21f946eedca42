import sys

from hw_sim.cli import main

sys.exit(main())
