"""``python -m hybridvmm``."""

import sys

from hybridvmm.cli import main

sys.exit(main(sys.argv[1:]))
