"""An offline tiny model for tests and the demo: a byte-level BPE tokenizer trained on
text the project ships, plus a random-weight Qwen2 of about 100k parameters.

Nothing touches a model hub. The tokenizer carries the special tokens that the chat
templates HearMe uses look up (qwen/chatml, chatglm3, glm4, llama2, llama3, baichuan2,
qwen3), so any of those templates can run on it.
"""

from __future__ import annotations

import json
from pathlib import Path

from hearme import io, paths

CORPUS = paths.ASSETS / "tokenizer_corpus.txt"

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",                       # qwen / chatml
    "[gMASK]", "sop", "<sop>", "<|user|>", "<|assistant|>", "<|system|>",  # chatglm3 / glm4
    "<|observation|>",
    "<s>", "</s>", "<unk>",                                               # llama2 (a real BOS)
    "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",      # llama3
    "<|eot_id|>", "<|eom_id|>",
    "<reserved_106>", "<reserved_107>",                                   # baichuan2
    "<think>", "</think>", "<tool_call>", "</tool_call>",                 # qwen3
]

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build(out_dir: str | Path, hidden: int = 64, layers: int = 2, vocab_size: int = 1024, seed: int = 0,
          max_positions: int = 1024) -> dict:
    """Write tokenizer + random model to out_dir; return a summary dict."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = CORPUS.read_text(encoding="utf-8")

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(text.splitlines(), trainer=trainer)

    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="<|endoftext|>", pad_token="<|endoftext|>",
        unk_token="<unk>", additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in ("<s>", "<|endoftext|>", "<unk>")],
    )
    hf_tok.chat_template = CHATML
    hf_tok.model_max_length = max_positions

    torch.manual_seed(seed)
    cfg = Qwen2Config(hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=max_positions,
                      tie_word_embeddings=True, vocab_size=len(hf_tok),
                      bos_token_id=hf_tok.bos_token_id, eos_token_id=hf_tok.eos_token_id,
                      pad_token_id=hf_tok.pad_token_id)
    model = Qwen2ForCausalLM(cfg)
    model.generation_config.pad_token_id = hf_tok.pad_token_id
    # Write into a temp dir, then swap in, so a crash never leaves a half model.
    tmp = out.with_name(f".{out.name}.partial")
    if tmp.exists():
        import shutil
        shutil.rmtree(tmp)
    from transformers.utils import logging as hf_logging

    hf_tok.save_pretrained(tmp)
    hf_logging.disable_progress_bar()  # one quiet line from the CLI instead of a shard bar
    try:
        model.save_pretrained(tmp)
    finally:
        hf_logging.enable_progress_bar()
    summary = {"path": str(out.resolve()), "parameters": sum(p.numel() for p in model.parameters()),
               "vocab": len(hf_tok), "special_tokens": len(SPECIAL_TOKENS), "hidden": hidden, "layers": layers}
    io.write_json(tmp / "hearme_tiny.json", summary)
    for f in tmp.iterdir():
        f.replace(out / f.name)
    tmp.rmdir()
    return summary


def ensure(out_dir: str | Path) -> Path:
    """Build the tiny model once; reuse it when already there."""
    out = Path(out_dir)
    if not (out / "hearme_tiny.json").exists():
        build(out)
    return out


def describe(out_dir: str | Path) -> dict:
    return json.loads((Path(out_dir) / "hearme_tiny.json").read_text())
