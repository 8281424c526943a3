"""`python -m prodcat`: the `prodcat` command, which lives above the core (prodcat_cli)."""

from prodcat_cli.cli import main

raise SystemExit(main())
