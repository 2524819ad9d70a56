"""Clone-only alias, not packaged: `python -m analysis.report ...` runs `python -m pbrl.analysis.report ...`.

The analysis code lives in `pbrl/analysis/`, so a wheel puts no generic top-level `analysis` into
site-packages; this folder (a namespace package, no `__init__.py`) keeps the old command working in a clone.
"""

import sys

from pbrl.cli.analysis_report import main

sys.exit(main())
