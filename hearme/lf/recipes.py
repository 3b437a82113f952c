"""Recipe overrides: what a recipe written for a 24 GB GPU needs elsewhere.

`cpu_overrides()` is what it needs on a machine without a CUDA GPU (bf16/fp16, Liger,
FlashAttention-2, paged optimizers, DeepSpeed); `hearme recipes check` prints them and
`hearme train` applies them. `tiny_overrides()` is what tests and `hearme demo` use to run a
shipped recipe on the offline tiny model; it returns notes on everything it switched off.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path



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
