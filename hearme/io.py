"""Deprecated: use `hearme.core.io`. Kept for one release so old imports keep working."""

import warnings

from hearme.core.io import *  # noqa: F401,F403

warnings.warn("hearme.io moved to hearme.core.io", DeprecationWarning, stacklevel=2)
