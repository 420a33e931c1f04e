"""``python -m cnnlab``: the command line (see ``cnnlab --help``)."""

from .cli import main

raise SystemExit(main())
