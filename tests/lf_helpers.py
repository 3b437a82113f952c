"""LLaMA-Factory helpers shared by tests: its own dataset pipeline and the merge check."""

from __future__ import annotations

from pathlib import Path


def sft_dataset(tiny_model, dataset_dir, dataset: str, *, template: str = "qwen", cutoff_len: int = 16384,
                **extra):
    """(tokenizer, train_dataset) exactly as `llamafactory-cli train` would preprocess them."""
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    args = dict(model_name_or_path=str(tiny_model), stage="sft", do_train=True, finetuning_type="lora",
                dataset_dir=str(dataset_dir), dataset=dataset, template=template, cutoff_len=cutoff_len,
                output_dir=str(Path(dataset_dir) / "out"), overwrite_cache=True, preprocessing_num_workers=1,
                report_to="none", bf16=False, **extra)
    model_args, data_args, training_args, *_ = get_train_args(args)
    tok_mod = load_tokenizer(model_args)
    tpl = get_template_and_fix_tokenizer(tok_mod["tokenizer"], data_args)
    module = get_dataset(tpl, model_args, data_args, training_args, stage="sft", **tok_mod)
    return tok_mod["tokenizer"], module["train_dataset"]


def merge_gaps(base_dir, adapter_dir, merged_dir) -> tuple[float, float]:
    """(max |merged - (base + adapter)|, max |merged - base|) of logits on a fixed input."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[5, 17, 42, 99, 123, 7, 300]])
    base = AutoModelForCausalLM.from_pretrained(base_dir).eval()
    with torch.no_grad():
        base_logits = base(ids).logits
        peft_logits = PeftModel.from_pretrained(base, adapter_dir).eval()(ids).logits
        merged_logits = AutoModelForCausalLM.from_pretrained(merged_dir).eval()(ids).logits
    return (merged_logits - peft_logits).abs().max().item(), (merged_logits - base_logits).abs().max().item()
