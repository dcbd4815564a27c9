"""``python -m consumer`` is the ``classter-hubspot`` command."""

from consumer.cli import main

raise SystemExit(main())
