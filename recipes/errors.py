"""One kind of error for a user's mistake, and the wrapper that turns it into one line.

A stage or command raises `UserError` for anything the user can fix (a bad file, a bad
param); `run` prints it as a single line on stderr and exits 1, never a traceback.
"""

from __future__ import annotations

import sys
from typing import Callable


class UserError(Exception):
    """A mistake in the user's input: reported as one line, exit status 1."""


def run(main: Callable[[], None]) -> None:
    try:
        main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
