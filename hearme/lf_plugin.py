"""Deprecated: use `hearme.lf.plugin`. Kept for one release: a `hearme_lf_plugin.pth` written by an
older HearMe imports this name, and must keep installing the hook until it is reinstalled."""

from hearme.lf.plugin import *  # noqa: F401,F403
from hearme.lf.plugin import install_hook  # noqa: F401
