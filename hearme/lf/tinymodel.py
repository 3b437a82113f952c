"""An offline tiny model for tests and the demo: a byte-level BPE tokenizer trained on
text the project ships, plus a random-weight Qwen2 of about 100k parameters.

Nothing touches a model hub. The tokenizer carries the special tokens that the chat
templates HearMe uses look up (qwen/chatml, chatglm3, glm4, llama2, llama3, baichuan2,
qwen3), so any of those templates can run on it.

`build_remote()` builds the same kind of tiny model with the documents' own remote code
(ChatGLM3-6B, Baichuan2): the model's stock `.py` files, copied unchanged, a SentencePiece
`tokenizer.model` trained here on the same text, and random weights in the remote classes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hearme.core import io, paths

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


# ---------------------------------------------------------------- the documents' remote-code models
REMOTE_FILES = {  # arch -> the remote-code files it needs
    "chatglm3": ("configuration_chatglm.py", "modeling_chatglm.py", "tokenization_chatglm.py"),
    "baichuan2": ("configuration_baichuan.py", "modeling_baichuan.py", "tokenization_baichuan.py"),
}
# Baichuan2's chat roles are ordinary vocabulary pieces (<reserved_106> = 195 in the real model).
BAICHUAN_ROLES = ("<reserved_106>", "<reserved_107>")


def train_sentencepiece(path: Path, vocab_size: int, *, dummy_prefix: bool, symbols=()) -> Path:
    """A BPE SentencePiece model on the shipped corpus: <unk>=0, <s>=1, </s>=2, byte fallback."""
    import io as _io

    import sentencepiece as spm

    buf = _io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS.read_text(encoding="utf-8").splitlines()), model_writer=buf,
        vocab_size=vocab_size, model_type="bpe", byte_fallback=True, character_coverage=1.0,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, user_defined_symbols=list(symbols), add_dummy_prefix=dummy_prefix,
        normalization_rule_name="identity", remove_extra_whitespaces=False, num_threads=1, minloglevel=2)
    path.write_bytes(buf.getvalue())
    return path


def _chatglm3_files(src: Path, tmp: Path, hidden: int, layers: int, vocab_size: int, max_positions: int) -> None:
    train_sentencepiece(tmp / "tokenizer.model", vocab_size, dummy_prefix=True)
    # SPTokenizer appends 9 specials ([MASK] [gMASK] [sMASK] sop eop and the four roles) after the pieces.
    padded = -(-(vocab_size + 9) // 64) * 64
    stock = json.loads((src / "config.json").read_text()) if (src / "config.json").exists() else {}
    cfg = {k: v for k, v in stock.items() if not k.startswith("_")}
    cfg.update({
        "model_type": "chatglm", "architectures": ["ChatGLMModel"],
        "auto_map": cfg.get("auto_map") or {
            "AutoConfig": "configuration_chatglm.ChatGLMConfig",
            "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
            "AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration"},
        "num_layers": layers, "hidden_size": hidden, "ffn_hidden_size": hidden * 2, "num_attention_heads": 4,
        "kv_channels": hidden // 4, "multi_query_attention": True, "multi_query_group_num": 2,
        "padded_vocab_size": padded, "seq_length": max_positions, "add_qkv_bias": True, "rmsnorm": True,
        "original_rope": True, "post_layer_norm": True, "eos_token_id": 2, "pad_token_id": 0,
        "torch_dtype": "float32", "use_cache": True, "tie_word_embeddings": False})
    io.write_json(tmp / "config.json", cfg)
    tok = src / "tokenizer_config.json"
    if tok.exists():
        shutil.copyfile(tok, tmp / "tokenizer_config.json")
    else:
        io.write_json(tmp / "tokenizer_config.json", {
            "tokenizer_class": "ChatGLMTokenizer", "remove_space": False, "do_lower_case": False,
            "auto_map": {"AutoTokenizer": ["tokenization_chatglm.ChatGLMTokenizer", None]}})


def _baichuan2_files(src: Path, tmp: Path, hidden: int, layers: int, vocab_size: int, max_positions: int) -> None:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(train_sentencepiece(
        tmp / "tokenizer.model", vocab_size, dummy_prefix=False, symbols=BAICHUAN_ROLES)))
    io.write_json(tmp / "config.json", {
        "architectures": ["BaichuanForCausalLM"], "model_type": "baichuan",
        "auto_map": {"AutoConfig": "configuration_baichuan.BaichuanConfig",
                     "AutoModelForCausalLM": "modeling_baichuan.BaichuanForCausalLM"},
        "vocab_size": sp.get_piece_size(), "hidden_size": hidden, "intermediate_size": hidden * 2,
        "num_hidden_layers": layers, "num_attention_heads": 4, "hidden_act": "silu",
        "model_max_length": max_positions, "max_position_embeddings": max_positions,  # 13B (ALiBi) / 7B (RoPE) names
        "initializer_range": 0.02, "rms_norm_eps": 1e-6, "use_cache": True, "pad_token_id": 0, "bos_token_id": 1,
        "eos_token_id": 2, "tie_word_embeddings": False, "z_loss_weight": 0, "tokenizer_class": "BaichuanTokenizer",
        "torch_dtype": "float32"})
    io.write_json(tmp / "tokenizer_config.json", {
        "tokenizer_class": "BaichuanTokenizer", "auto_map": {"AutoTokenizer": ["tokenization_baichuan.BaichuanTokenizer", None]},
        "add_bos_token": False, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "pad_token": "<unk>", "clean_up_tokenization_spaces": False, "model_max_length": max_positions,
        "sp_model_kwargs": {}, "use_fast": False})
    stock = src / "generation_config.json"
    gen = json.loads(stock.read_text()) if stock.exists() else {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
    gen.update(user_token_id=sp.piece_to_id(BAICHUAN_ROLES[0]), assistant_token_id=sp.piece_to_id(BAICHUAN_ROLES[1]))
    io.write_json(tmp / "generation_config.json", gen)


def _init_weights(model, seed: int) -> None:
    """Deterministic random weights: ChatGLM's remote code leaves them uninitialised (skip_init)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
            elif "norm" in name:
                p.fill_(1.0)
            else:
                p.zero_()


def build_remote(out_dir: str | Path, arch: str, remote_code: str | Path, hidden: int = 64, layers: int = 2,
                 vocab_size: int = 1024, seed: int = 0, max_positions: int = 1024) -> dict:
    """A tiny random model built with ARCH's own remote-code classes; their .py files are copied unchanged."""
    from hearme.lf import remote_compat

    if arch not in REMOTE_FILES:
        raise io.HearMeError(f"--arch {arch!r}: choose {', '.join(REMOTE_FILES)}")
    src = Path(remote_code)
    missing = [f for f in REMOTE_FILES[arch] if not (src / f).is_file()]
    if missing:
        raise io.InputError(src, "", f"not {arch} remote code: missing {', '.join(missing)}")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not (out / "hearme_tiny.json").exists():
        raise io.InputError(out, "", "exists and is not a HearMe tiny model: choose an empty or new folder")
    tmp = out.with_name(f".{out.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    code = sorted(src.glob("*.py"))
    for f in code + [p for p in src.iterdir() if p.name.upper().startswith(("LICENSE", "MODEL_LICENSE"))]:
        shutil.copyfile(f, tmp / f.name)
    (_chatglm3_files if arch == "chatglm3" else _baichuan2_files)(src, tmp, hidden, layers, vocab_size, max_positions)

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    remote_compat.install()
    tok = AutoTokenizer.from_pretrained(tmp, trust_remote_code=True)
    config = AutoConfig.from_pretrained(tmp, trust_remote_code=True)
    generation = (tmp / "generation_config.json").read_bytes() if (tmp / "generation_config.json").exists() else None
    model = AutoModelForCausalLM.from_config(config, trust_remote_code=True, dtype=torch.float32)
    _init_weights(model, seed)
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(tmp)
    finally:
        hf_logging.enable_progress_bar()
    if generation is not None:  # the stock generation config (role token ids), not one derived from config.json
        (tmp / "generation_config.json").write_bytes(generation)
    changed = [f.name for f in code if (tmp / f.name).read_bytes() != f.read_bytes()]
    if changed:
        raise io.HearMeError(f"remote-code files changed while saving: {', '.join(changed)}")
    summary = {"path": str(out.resolve()), "arch": arch, "parameters": sum(p.numel() for p in model.parameters()),
               "vocab": len(tok.get_vocab()), "hidden": hidden, "layers": layers,
               "remote_code": {"from": str(src.resolve()),
                               "files": {name: [digest, rev] for name, digest, rev in remote_compat.status(src)}}}
    io.write_json(tmp / "hearme_tiny.json", summary)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return summary
