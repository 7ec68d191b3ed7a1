import sys

from bench.gpu_smoke.smoke import main

sys.exit(main())
