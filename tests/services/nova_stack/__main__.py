"""``python -m tests.services.nova_stack start``: the Nova stack by hand (see the package doc)."""

from . import main

raise SystemExit(main())
