"""``python -m thalweg_lab NAME [--quick] [--out DIR] [--seed S]`` (see ``thalweg_lab.cli``)."""

import sys

from thalweg_lab.cli import main

sys.exit(main())
