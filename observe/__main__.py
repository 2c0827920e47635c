from __future__ import annotations

from observe.cli import main

raise SystemExit(main())
