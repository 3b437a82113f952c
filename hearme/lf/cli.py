"""`hearme recipes ...`, `hearme cv` and `hearme train`: check, serve, cross-validate, run.

    hearme recipes check [PATHS]          parse with LLaMA-Factory's parsers + 24 GB memory table
    hearme recipes plugin install|remove|status   the template plugin (.pth hook)
    hearme recipes serve api|webchat|chat RECIPE  llamafactory-cli on 127.0.0.1, key from the env
    hearme recipes predict-vllm RECIPE --out DIR  batch generation on vLLM, LLaMA-Factory's format
    hearme cv --recipe R --kfold 5        k-fold train + predict, mean ± sd of BLEU/ROUGE
    hearme train RECIPE [key=value ...]   llamafactory-cli train/export, plus the CPU overrides on a CPU
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import List, Optional

import typer

from hearme.core import io, paths
from hearme.lf.recipes import cli_value, cpu_overrides

recipes_app = typer.Typer(help="LLaMA-Factory recipes: check, plugin, serve, vLLM predict.", no_args_is_help=True)
plugin_app = typer.Typer(help="The HearMe template plugin (baichuan2, hearme_firefly) for LLaMA-Factory 0.9.5.",
                         no_args_is_help=True)
recipes_app.add_typer(plugin_app, name="plugin")


@recipes_app.command("check")
def check_cmd(
    targets: Optional[List[Path]] = typer.Argument(None, help="Recipe files or folders [default: recipes/]."),
    dataset_dir: Optional[Path] = typer.Option(None, help="dataset_info.json folder [default: each recipe's dataset_dir]."),
    tiny_model: Optional[Path] = typer.Option(None, help="Tiny model to parse with [default: built once in the cache]."),
    gpus: int = typer.Option(2, help="GPUs assumed for DeepSpeed recipes (per-GPU memory)."),
) -> None:
    """Parse recipes with LLaMA-Factory's own parsers (tiny model, no GPU) and estimate 24 GB memory."""
    from hearme.lf import recipe_check

    reports = recipe_check.run_checks(targets, tiny_model=tiny_model, dataset_dir=dataset_dir, world_size=gpus)
    typer.echo(recipe_check.format_reports(reports))
    bad = [r for r in reports if not r.ok]
    typer.echo(f"\n{len(reports) - len(bad)}/{len(reports)} recipes ok")
    if bad:
        raise typer.Exit(1)


@plugin_app.command("install")
def plugin_install(site_dir: Optional[Path] = typer.Option(None, help="site-packages to install into [default: this Python's].")) -> None:
    """Install the .pth hook so every LLaMA-Factory process (CLI, WebUI, its trainer) gets the templates."""
    from hearme.lf import plugin as lf_plugin

    typer.echo(f"installed {lf_plugin.install(site_dir)}")


@plugin_app.command("remove")
def plugin_remove(site_dir: Optional[Path] = typer.Option(None, help="site-packages to remove it from.")) -> None:
    """Remove the .pth hook."""
    from hearme.lf import plugin as lf_plugin

    typer.echo("removed" if lf_plugin.uninstall(site_dir) else "not installed")


@plugin_app.command("status")
def plugin_status(
    model: Optional[Path] = typer.Option(None, help="A ChatGLM3 / Baichuan2 model folder: is its remote code a revision the plugin patches?"),
) -> None:
    """Ask a fresh interpreter of this environment which plugin templates LLaMA-Factory sees."""
    import sys

    from hearme.lf import runner as lf, plugin as lf_plugin, remote_compat

    if model is not None:
        rows = remote_compat.status(model)
        if not rows:
            raise io.InputError(model, "", "no ChatGLM3 / Baichuan2 remote code (*.py) in this folder")
        for name, digest, revision in rows:
            typer.echo(f"  {name:<26} {digest[:12]}  {revision if revision != 'unknown' else 'UNKNOWN: not patched'}")
        return

    code = ("from llamafactory.data.template import TEMPLATES\n"
            f"print(','.join(n for n in {sorted(lf_plugin.PLUGIN_TEMPLATES)!r} if n in TEMPLATES))")
    seen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=lf.child_env()).stdout.strip()
    typer.echo(f"hook file: {lf_plugin.pth_path()} ({'present' if lf_plugin.is_installed() else 'absent'})")
    for name, what in lf_plugin.PLUGIN_TEMPLATES.items():
        typer.echo(f"  {name:<15} {'registered' if name in seen.split(',') else 'MISSING':<10} {what}")


@recipes_app.command("serve")
def serve_cmd(
    mode: str = typer.Argument(..., help="api (OpenAI-compatible), webchat (browser) or chat (terminal)."),
    recipe: Path = typer.Argument(..., help="An infer recipe, e.g. recipes/infer/qwen2.5_counseling.yaml."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (LLaMA-Factory's own default is 0.0.0.0)."),
    port: int = typer.Option(8000, help="Port for api / webchat."),
    api_key_env: str = typer.Option("HEARME_API_KEY", help="Environment variable holding the key clients must send."),
    model_name: str = typer.Option("hearme", help="Model id reported by /v1/models."),
) -> None:
    """Run llamafactory-cli api/webchat/chat on a recipe, bound to 127.0.0.1, key from the environment."""
    from hearme.lf import runner as lf

    if mode not in ("api", "webchat", "chat"):
        raise io.HearMeError(f"mode {mode!r}: choose api, webchat or chat")
    if not recipe.exists():
        raise io.InputError(recipe, "", "no such recipe")
    env = {}
    if mode == "api":
        env.update(API_HOST=host, API_PORT=str(port), API_MODEL_NAME=model_name)
        key = os.environ.get(api_key_env)
        if key:
            env["API_KEY"] = key  # passed through the environment only; never written anywhere
        else:
            typer.echo(f"warning: ${api_key_env} is not set: the API accepts any client on {host}", err=True)
    elif mode == "webchat":
        env.update(GRADIO_SERVER_NAME=host, GRADIO_SERVER_PORT=str(port))
    raise typer.Exit(subprocess.call([lf.cli_path(), mode, str(recipe)], env=lf.child_env(env)))


@recipes_app.command("predict-vllm")
def predict_vllm_cmd(
    recipe: Path = typer.Argument(..., help="A vLLM predict recipe, e.g. recipes/predict/qwen2.5_counseling_vllm.yaml."),
    out: Path = typer.Option(..., "--out", help="Folder for generated_predictions.jsonl and predict_results.json."),
    prompts_only: bool = typer.Option(False, help="Only build the prompts with LLaMA-Factory's template (no vLLM)."),
) -> None:
    """Batch generation on vLLM with LLaMA-Factory's own prompts; writes its predictions format."""
    from hearme.lf import vllm_predict

    n = vllm_predict.run(recipe, out, prompts_only=prompts_only)
    typer.echo(f"{n} {'prompts' if prompts_only else 'predictions'} -> {out}")


def _parse_sets(items: list[str]) -> dict:
    import yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise io.HearMeError(f"--set {item!r}: expected key=value")
        k, v = item.split("=", 1)
        out[k.strip()] = yaml.safe_load(v) if v != "" else None
    return out


def cv_cmd(
    recipe: str = typer.Option(..., "--recipe", help="Train recipe (path or name under recipes/)."),
    kfold: int = typer.Option(5, help="Number of folds (the Tibetan paper: 5)."),
    out: Path = typer.Option(Path("runs/cv"), "--out", help="Output folder (fold data, adapters, predictions, report)."),
    seed: int = typer.Option(42, help="Seed of the fold assignment."),
    dataset: Optional[str] = typer.Option(None, help="Comma-separated datasets to split [default: the recipe's dataset]."),
    dataset_dir: Optional[Path] = typer.Option(None, help="Where those datasets are registered [default: the recipe's]."),
    predict_recipe: Optional[str] = typer.Option(None, help="Predict recipe for generation settings [default: derived]."),
    set_: List[str] = typer.Option([], "--set", help="key=value override for train and predict (repeatable; empty value deletes)."),
) -> None:
    """k-fold cross-validation: train + predict per fold, mean ± sd of BLEU-4 and ROUGE-1/2/L."""
    from tqdm import tqdm

    from hearme.core import paths
    from hearme.lf import cv

    paths.set_offline()
    bar = tqdm(total=2 * kfold, desc="cv", unit="run")  # one tick as each train / predict run starts
    result = cv.run_cv(recipe, out, kfold=kfold, seed=seed, datasets=dataset, dataset_dir=dataset_dir,
                       predict_recipe=predict_recipe, overrides=_parse_sets(set_),
                       progress=lambda m: (bar.set_postfix_str(m), bar.update(1)))
    bar.close()
    typer.echo(cv.format_report(result))
    typer.echo(f"-> {out / 'cv_results.json'}")


def train_cmd(
    recipe: Path = typer.Argument(..., help="A train, predict or merge recipe (path, or a name under recipes/)."),
    overrides: Optional[List[str]] = typer.Argument(None, help="key=value overrides, as `llamafactory-cli train RECIPE key=value`."),
    cpu: Optional[bool] = typer.Option(None, "--cpu/--gpu", help="Add the CPU overrides [default: when no CUDA GPU is visible]."),
    dry_run: bool = typer.Option(False, help="Print the llamafactory-cli command and exit."),
) -> None:
    """Run a recipe with plain llamafactory-cli (train, or export for merge recipes), adding the CPU overrides on a CPU."""
    import shlex

    from hearme.lf import runner as lf

    path = recipe if recipe.exists() else paths.RECIPES / recipe
    cfg = lf.apply_overrides(lf.load_yaml(path), _parse_sets(overrides or []))
    if cfg.get("export_dir"):
        command = "export"
    elif cfg.get("do_train") or cfg.get("do_predict") or cfg.get("stage"):
        command = "train"
    else:
        raise io.InputError(path, "", "an inference recipe: run `llamafactory-cli chat` or `hearme recipes serve` on it")
    if cpu is None:
        import torch

        cpu = not torch.cuda.is_available()
    extra = cpu_overrides(cfg) if cpu else []
    for key, value, why in extra:
        typer.echo(f"cpu: {key}={cli_value(value)}  ({why})", err=True)
    argv = [lf.cli_path(), command, str(path), *(overrides or []), *(f"{k}={cli_value(v)}" for k, v, _ in extra)]
    typer.echo(shlex.join(argv), err=True)
    if dry_run:
        return
    raise typer.Exit(subprocess.call(argv))  # the user's environment: a real run may download the base model


def register(app: typer.Typer) -> None:
    app.add_typer(recipes_app, name="recipes")
    app.command("cv")(cv_cmd)
    app.command("train")(train_cmd)
