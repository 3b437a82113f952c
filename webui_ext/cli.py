"""`hearme webui`: LLaMA-Factory's WebUI with HearMe's datasets and tabs."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Optional

import typer

from hearme.core import io


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    @app.command("webui")
    def webui_cmd(
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind. Anything but loopback needs --allow-remote."),
        port: Optional[int] = typer.Option(None, "--port", min=1, max=65535,
                                           help="Port (default: GRADIO_SERVER_PORT, else the first free one from 7860)."),
        dataset_dir: Optional[Path] = typer.Option(None, "--dataset-dir",
                                                   help="Directory of dataset_info.json (default: the repository root)."),
        allow_remote: bool = typer.Option(False, "--allow-remote",
                                          help="Allow a non-loopback --host (the UI has no login: anyone who can "
                                               "reach it can train models and read server files)."),
    ) -> None:
        """Start LLaMA-Factory's WebUI with HearMe's datasets preloaded and Data / Evaluate / Tibetan tabs."""
        if not is_loopback(host):
            if not allow_remote:
                raise io.HearMeError(f"--host {host} would expose the WebUI beyond this machine; "
                                     "add --allow-remote if that is what you want")
            typer.echo(f"WARNING: binding {host}: the WebUI has no login; anyone who can reach this address can "
                       "start training, read files on this server and use the keys typed into it.", err=True)
        from hearme.core import paths

        ddir = Path(dataset_dir).resolve() if dataset_dir else paths.dataset_dir()
        if not ddir.is_dir():
            raise io.HearMeError(f"--dataset-dir {ddir}: no such directory")
        if not (ddir / "dataset_info.json").exists():
            typer.echo(f"note: {ddir} has no dataset_info.json yet; `hearme samples` registers the bundled samples, "
                       "or convert your own data in the Data tab", err=True)
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported
        from hearme.webui_ext import app as webui

        typer.echo(f"HearMe WebUI: datasets from {ddir / 'dataset_info.json'}; runs are written under {Path.cwd()}")
        webui.launch(host=host, port=port, dataset_dir=ddir)
