"""Batch generation on vLLM for a predict recipe, in LLaMA-Factory's own output format.

LLaMA-Factory 0.9.5 uses vLLM only for api/chat/webchat (its batch script is not in the
wheel). This builds the prompts with LLaMA-Factory's template and data pipeline (the
same token ids `llamafactory-cli train` with do_predict would feed), generates with vLLM,
and writes generated_predictions.jsonl ({prompt, predict, label}) plus predict_results.json
scored like LLaMA-Factory (hearme.evaluators.metrics).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from hearme.core import io, paths
from hearme.lf import runner as lf


def build(recipe: Path | str) -> tuple[list[list[int]], list[str], list[str], dict]:
    """(prompt ids, decoded prompts, labels, parsed args) with LLaMA-Factory's own pipeline."""
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.extras.constants import IGNORE_INDEX
    from llamafactory.hparams import get_infer_args
    from llamafactory.model import load_tokenizer
    from transformers import Seq2SeqTrainingArguments

    cfg = lf.resolve_recipe(recipe)
    if not cfg.get("eval_dataset"):
        raise io.HearMeError(f"{recipe}: needs eval_dataset (the split to generate for)")
    args = {k: v for k, v in cfg.items() if k != "eval_dataset"}
    args["dataset"] = cfg["eval_dataset"]
    args["infer_backend"] = "huggingface"  # parse without vLLM; the engine is ours
    model_args, data_args, _, gen_args = get_infer_args(args)
    tok_module = load_tokenizer(model_args)
    tok = tok_module["tokenizer"]
    template = get_template_and_fix_tokenizer(tok, data_args)
    training_args = Seq2SeqTrainingArguments(output_dir=str(paths.cache_dir() / "vllm-predict"), report_to=[])
    ds = get_dataset(template, model_args, data_args, training_args, "ppo", **tok_module)["train_dataset"]
    ids = [list(x) for x in ds["input_ids"]]
    prompts = [tok.decode(x, skip_special_tokens=False) for x in ids]
    labels = [tok.decode([t for t in y if t != IGNORE_INDEX], skip_special_tokens=True) for y in ds["labels"]]
    info = {"model": model_args.model_name_or_path, "adapter": model_args.adapter_name_or_path,
            "dtype": model_args.infer_dtype, "maxlen": model_args.vllm_maxlen, "util": model_args.vllm_gpu_util,
            "stop": template.get_stop_token_ids(tok), "gen": gen_args.to_dict(), "trust": model_args.trust_remote_code}
    return ids, prompts, labels, info


def generate(ids: list[list[int]], info: dict) -> list[str]:
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    adapter = (info["adapter"] or [None])[0]
    rank = json.loads((Path(adapter) / "adapter_config.json").read_text())["r"] if adapter else 16
    llm = LLM(model=info["model"], trust_remote_code=info["trust"], dtype=info["dtype"], max_model_len=info["maxlen"],
              gpu_memory_utilization=info["util"], enable_lora=adapter is not None, max_lora_rank=max(rank, 16))
    g = info["gen"]
    params = SamplingParams(temperature=g["temperature"] if g.get("do_sample") else 0.0, top_p=g.get("top_p") or 1.0,
                            max_tokens=g["max_new_tokens"], stop_token_ids=info["stop"],
                            repetition_penalty=g.get("repetition_penalty") or 1.0, skip_special_tokens=True)
    lora = LoRARequest("hearme", 1, adapter) if adapter else None
    outs = llm.generate([{"prompt_token_ids": x} for x in ids], params, lora_request=lora)
    return [o.outputs[0].text for o in outs]


def run(recipe: Path | str, out: Path, prompts_only: bool = False) -> int:
    paths.set_offline()
    if not prompts_only and importlib.util.find_spec("vllm") is None:
        raise io.HearMeError("vLLM is not installed here (it needs a CUDA GPU: pip install 'vllm>=0.4.3,<=0.11.0'); "
                             "use the HF-engine recipe recipes/predict/qwen2.5_counseling.yaml instead")
    ids, prompts, labels, info = build(recipe)
    out = Path(out)
    if prompts_only:
        io.write_jsonl(out / "prompts.jsonl", [{"prompt": p, "label": l} for p, l in zip(prompts, labels)])
        return len(prompts)
    preds = generate(ids, info)
    pred_file = io.write_jsonl(out / "generated_predictions.jsonl",
                               [{"prompt": p, "predict": y, "label": l} for p, y, l in zip(prompts, preds, labels)])
    try:
        from hearme.evaluators import metrics

        scores = metrics.compute(pred_file)
        io.write_json(out / "predict_results.json",
                      {f"predict_{k}": v for k, v in scores.items() if isinstance(v, (int, float))})
    except ImportError:
        pass
    return len(preds)
