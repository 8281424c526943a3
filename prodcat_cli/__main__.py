"""`python -m prodcat_cli`: the `prodcat` command."""

from prodcat_cli.cli import main

raise SystemExit(main())
