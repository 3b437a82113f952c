"""`hearme recipes ...` and `hearme cv`: check, run on the tiny model, serve, cross-validate.

    hearme recipes check [PATHS]          parse with LLaMA-Factory's parsers + 24 GB memory table
    hearme recipes plugin install|remove|status   the template plugin (.pth hook)
    hearme recipes serve api|webchat|chat RECIPE  llamafactory-cli on 127.0.0.1, key from the env
    hearme recipes predict-vllm RECIPE --out DIR  batch generation on vLLM, LLaMA-Factory's format
    hearme cv --recipe R --kfold 5        k-fold train + predict, mean ± sd of BLEU/ROUGE
    hearme train RECIPE [key=value ...]   llamafactory-cli train/export, plus the CPU overrides on a CPU

`cpu_overrides()` is what a recipe written for a 24 GB GPU needs on a machine without one
(bf16/fp16, Liger, FlashAttention-2, paged optimizers, DeepSpeed); `hearme recipes check`
prints them and `hearme train` applies them. `tiny_overrides()` is what tests and `hearme demo`
use to run a shipped recipe on the offline tiny model; it returns notes on everything it switched off.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from typing import List, Optional

import typer

from hearme import io, paths

def cpu_overrides(cfg: dict) -> list[tuple[str, object, str]]:
    """(key, value, why) for every setting of recipe `cfg` that cannot run without a CUDA GPU."""
    out: list[tuple[str, object, str]] = []
    if cfg.get("bf16"):
        out.append(("bf16", False, "bf16 mixed precision needs a GPU (transformers refuses it on a CPU)"))
    if cfg.get("fp16"):
        out.append(("fp16", False, "fp16 mixed precision needs a GPU"))
    if cfg.get("enable_liger_kernel"):
        out.append(("enable_liger_kernel", False, "Liger kernels are Triton GPU kernels (liger-kernel needs CUDA)"))
    if cfg.get("deepspeed"):
        out.append(("deepspeed", None, "DeepSpeed runs through torchrun on GPUs"))
    if cfg.get("flash_attn") == "fa2":
        out.append(("flash_attn", "sdpa", "FlashAttention-2 needs a GPU"))
    if str(cfg.get("optim", "")).startswith("paged_"):
        out.append(("optim", "adamw_torch", "paged optimizers page through CUDA memory"))
    if cfg.get("quantization_bit") and importlib.util.find_spec("bitsandbytes") is None:
        out.append(("quantization_bit", None, "bitsandbytes is not installed (0.50 runs NF4 on a CPU)"))
    return out


def cli_value(value) -> str:
    """A value as LLaMA-Factory's `key=value` command-line overrides (OmegaConf) read it."""
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def tiny_overrides(cfg: dict, model: str | Path, *, dataset_dir=None, output_dir=None, adapter=None,
                   max_steps: int = 2, cutoff_len: int = 128) -> tuple[dict, list[str]]:
    """Overrides that run recipe `cfg` on the tiny model on a CPU, and notes on what they change.

    Kept from the recipe: method, LoRA/QLoRA settings, template, packing, schedule, early
    stopping. Changed: model, bf16 -> fp32, max_steps, cutoff, workers, and GPU-only extras.
    `adapter` replaces adapter_name_or_path (None removes it).
    """
    import torch

    o: dict = {"model_name_or_path": str(model), "preprocessing_num_workers": 1}
    notes = []
    if not torch.cuda.is_available():
        if cfg.get("stage") or "bf16" in cfg or "fp16" in cfg:  # training arguments (train / predict)
            o.update(bf16=False, fp16=False)
        for key, value, why in cpu_overrides(cfg):
            o[key] = value
            if key not in ("bf16", "fp16"):
                notes.append(f"{key}={cli_value(value)}: {why}")
    if dataset_dir is not None:
        o["dataset_dir"] = str(dataset_dir)
    if "adapter_name_or_path" in cfg or adapter is not None:
        o["adapter_name_or_path"] = str(adapter) if adapter is not None else None
    if cfg.get("export_dir"):
        o["export_dir"] = str(output_dir)
    elif output_dir is not None:
        o["output_dir"] = str(output_dir)
    if "cutoff_len" in cfg or cfg.get("stage"):
        o["cutoff_len"] = cutoff_len
    if cfg.get("do_train"):
        o.update(max_steps=max_steps, logging_steps=1, save_steps=max_steps, dataloader_num_workers=0)
        if cfg.get("include_effective_tokens_per_second"):
            o["include_effective_tokens_per_second"] = False  # re-reads the dataset; seconds on CPU
    if cfg.get("max_new_tokens"):
        o["max_new_tokens"] = 8
    if cfg.get("do_predict"):
        o["per_device_eval_batch_size"] = 2
    if cfg.get("vllm_maxlen"):
        o["vllm_maxlen"] = cutoff_len + 8
    return o, notes


# ---------------------------------------------------------------- CLI
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
    from hearme import recipe_check

    reports = recipe_check.run_checks(targets, tiny_model=tiny_model, dataset_dir=dataset_dir, world_size=gpus)
    typer.echo(recipe_check.format_reports(reports))
    bad = [r for r in reports if not r.ok]
    typer.echo(f"\n{len(reports) - len(bad)}/{len(reports)} recipes ok")
    if bad:
        raise typer.Exit(1)


@plugin_app.command("install")
def plugin_install(site_dir: Optional[Path] = typer.Option(None, help="site-packages to install into [default: this Python's].")) -> None:
    """Install the .pth hook so every LLaMA-Factory process (CLI, WebUI, its trainer) gets the templates."""
    from hearme import lf_plugin

    typer.echo(f"installed {lf_plugin.install(site_dir)}")


@plugin_app.command("remove")
def plugin_remove(site_dir: Optional[Path] = typer.Option(None, help="site-packages to remove it from.")) -> None:
    """Remove the .pth hook."""
    from hearme import lf_plugin

    typer.echo("removed" if lf_plugin.uninstall(site_dir) else "not installed")


@plugin_app.command("status")
def plugin_status(
    model: Optional[Path] = typer.Option(None, help="A ChatGLM3 / Baichuan2 model folder: is its remote code a revision the plugin patches?"),
) -> None:
    """Ask a fresh interpreter of this environment which plugin templates LLaMA-Factory sees."""
    import sys

    from hearme import lf, lf_plugin, remote_compat

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
    from hearme import lf

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
    from hearme import vllm_predict

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

    from hearme import cv, paths

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

    from hearme import lf

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
