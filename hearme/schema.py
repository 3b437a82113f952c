"""Deprecated: use `hearme.core.schema`. Kept for one release so old imports keep working."""

import warnings

from hearme.core.schema import *  # noqa: F401,F403

warnings.warn("hearme.schema moved to hearme.core.schema", DeprecationWarning, stacklevel=2)
