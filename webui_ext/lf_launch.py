"""`llamafactory-cli` as the WebUI's training process runs it: HearMe's plugin hook, then LLaMA-Factory.

The WebUI puts a shim named `llamafactory-cli` first on PATH that runs
`python -m hearme.webui_ext.lf_launch ARGS...` with the WebUI's own interpreter, so the child
sees the same environment, HearMe's datasets and HearMe's plugin templates.
"""

from __future__ import annotations

import sys


def main() -> int:
    from hearme.webui_ext.app import install_plugin_hook

    install_plugin_hook()
    from llamafactory.cli import main as lf_main

    sys.argv[0] = "llamafactory-cli"
    return lf_main() or 0


if __name__ == "__main__":
    sys.exit(main())
