"""`python -m fixed_ip_local.cli`: the `fixed-ip` command line, whose entry point is
`fixed_ip_cli.main` (the development commands there load this package lazily)."""

from __future__ import annotations

import sys

from fixed_ip_cli.main import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
