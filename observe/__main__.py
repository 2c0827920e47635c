from __future__ import annotations

from observe import termination

termination.defer()  # before the imports below: a SIGTERM during start-up is kept, not fatal

from observe.cli import main  # noqa: E402

raise SystemExit(main())
