"""``python -m thalweg.lab NAME [--quick] [--out DIR] [--seed S]`` (see ``thalweg.lab.cli``)."""

import sys

from .cli import main

sys.exit(main())
