"""Peak GPU memory estimate for a recipe on one 24 GB card (formula in docs/recipes.md).

Training (LoRA / QLoRA, AdamW, gradient checkpointing on):
    weights      = 2 B x params            (bf16)          or, with quantization_bit 4/8,
                   q B x block params + 2 B x (embedding + lm_head)   q = 0.516 nf4+double quant,
                                                                       0.5625 nf4, 1.0 int8
    lora_state   = 16 B x LoRA params      (fp32 weight + fp32 grad + two fp32 Adam moments)
    activations  = 2 B x T x h x layers    (one checkpoint per layer)
                 + T x (34 h + 10 i) B      (the layer being recomputed, forward + backward)
                   x 1.37 with lora_dropout > 0 (each LoRA input keeps a dropped copy: measured on
                                             a real-size Qwen2 layer at dropout 0.05)
                 + 2 B x batch x cutoff^2   (4-D block mask, only neat_packing without FA2)
    logits       = 10 B x T x vocab        (bf16 logits, fp32 copy, fp32 grad; 0 with Liger's
                                             fused linear cross-entropy)
    overhead     = 1 GiB                   (CUDA context, allocator fragmentation)
    T = per_device_train_batch_size x cutoff_len (an upper bound: batches pad to their longest row)
        x 2 for DPO/ORPO (chosen and rejected rows go through the model together)

Preference stages (stage dpo / kto) keep the logits even with Liger (LLaMA-Factory turns its chunked
loss off there) and add the reference model:
    reference    = 0 for ORPO / SimPO (reference-free losses);
                   else, with LoRA and no ref_model, the same weights with the adapter off (no weight
                   memory) and its forward without gradients: 6 B x T x vocab (bf16 logits + fp32
                   log-softmax; KTO: T of the target rows, its KL rows go one forward at a time);
                   with ref_model or full tuning, + its weights (2 B x params, or quantized).
    LLaMA-Factory 0.9.5 has no precompute_ref_log_probs (its DPO/KTO trainers set it False); it would
    save the reference forward (the part above) at the cost of one pass over the data first.

Generation (predict / chat / api, HF engine): weights + KV cache
    (2 x layers x kv_dim x 2 B x batch x (cutoff + max_new_tokens)) + prefill working set + overhead.
vLLM preallocates vllm_gpu_util x card. Export with export_device: cpu uses no GPU.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

GiB = 1024**3
CARD_GIB = 24.0
LIMIT_GIB = 22.0
OVERHEAD_GIB = 1.0
QUANT_BYTES = {None: 2.0, 8: 1.0, 4: 0.516}  # nf4 with double quantization; 0.5625 without
# Saved activations of one layer with lora_dropout > 0 vs 0: PEFT applies the dropout to the input of
# every LoRA linear and autograd keeps that dropped copy. Measured 1.37x on a real-size Qwen2 layer
# (hidden 3584, LoRA on all linear layers, dropout 0.05).
LORA_DROPOUT_FACTOR = 1.37


@dataclass(frozen=True)
class Arch:
    name: str
    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    head_dim: int = 0
    tied: bool = False

    @property
    def hd(self) -> int:
        return self.head_dim or self.hidden // self.heads

    def linears(self) -> dict[str, tuple[int, int]]:
        """(in, out) of every LoRA-able linear in one block."""
        h, i, q, kv = self.hidden, self.intermediate, self.heads * self.hd, self.kv_heads * self.hd
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    def block_params(self) -> int:
        return self.layers * sum(a * b for a, b in self.linears().values())

    def embed_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied else 2)

    def params(self) -> int:
        return self.block_params() + self.embed_params()


# Published configs of the recipes' base models (config.json of each hub repo).
KNOWN = {
    "qwen2.5-7b": Arch("Qwen2.5-7B", 3584, 28, 18944, 28, 4, 152064),
    "glm-4-9b": Arch("GLM-4-9B-0414", 4096, 40, 13696, 32, 2, 151552),
    "chatglm3-6b": Arch("ChatGLM3-6B", 4096, 28, 13696, 32, 2, 65024),
    "llama-2-7b": Arch("Llama-2-7B", 4096, 32, 11008, 32, 32, 32000),
    "baichuan2-7b": Arch("Baichuan2-7B", 4096, 32, 11008, 32, 32, 125696),
}


def arch_from_config(cfg: dict, name: str = "local") -> Arch:
    """Read an Arch from a config.json dict (HF names, and ChatGLM's own)."""
    g = cfg.get
    heads = g("num_attention_heads")
    kv = g("num_key_value_heads") or g("multi_query_group_num") or heads
    return Arch(name, g("hidden_size"), g("num_hidden_layers") or g("num_layers"),
                g("intermediate_size") or g("ffn_hidden_size"), heads, kv,
                g("vocab_size") or g("padded_vocab_size"), g("head_dim") or 0, bool(g("tie_word_embeddings", False)))


def find_arch(model: str) -> Arch | None:
    """Local config.json first, then the known hub models by name."""
    cfg = Path(model) / "config.json"
    if cfg.exists():
        return arch_from_config(json.loads(cfg.read_text(encoding="utf-8")), Path(model).name)
    key = model.lower().replace("_", "-")
    for k, arch in KNOWN.items():
        if k in key:
            return arch
    return None


def lora_params(arch: Arch, rank: int, target: str = "all") -> int:
    lin = arch.linears()
    names = list(lin) if target in ("all", None) else [t.strip() for t in str(target).split(",")]
    per_layer = sum(rank * (lin[n][0] + lin[n][1]) for n in names if n in lin)
    if per_layer == 0:  # module names of another family (query_key_value, W_pack, ...): count as all
        per_layer = sum(rank * (a + b) for a, b in lin.values())
    return arch.layers * per_layer


def weight_bytes(arch: Arch, quant_bit: int | None, double_quant: bool = True) -> float:
    if quant_bit is None:
        return 2.0 * arch.params()
    q = 0.5625 if quant_bit == 4 and not double_quant else QUANT_BYTES.get(quant_bit, 2.0)
    return q * arch.block_params() + 2.0 * arch.embed_params()


def train_estimate(arch: Arch, cfg: dict, world_size: int = 1, zero_stage: int = 0) -> dict[str, float]:
    """Per-GPU GiB parts for a training recipe (name -> GiB, plus 'total'); ZeRO shards over world_size."""
    batch = int(cfg.get("per_device_train_batch_size", 1))
    cutoff = int(cfg.get("cutoff_len", 2048))
    stage = str(cfg.get("stage", "sft"))
    tokens = batch * cutoff * (2 if stage == "dpo" else 1)
    h, i = arch.hidden, arch.intermediate
    weights = weight_bytes(arch, cfg.get("quantization_bit"), cfg.get("double_quantization", True))
    if cfg.get("finetuning_type", "lora") == "lora":
        state = 16.0 * lora_params(arch, int(cfg.get("lora_rank", 8)), cfg.get("lora_target", "all"))
    else:  # full/freeze: all parameters trainable
        state = 16.0 * arch.params()
    if zero_stage == 3:
        weights, state = weights / world_size, state / world_size
    elif zero_stage in (1, 2):
        state = state / world_size
    layer = tokens * (34 * h + 10 * i)  # saved activations of one layer, forward + backward
    if cfg.get("finetuning_type", "lora") == "lora" and float(cfg.get("lora_dropout") or 0) > 0:
        layer *= LORA_DROPOUT_FACTOR
    if cfg.get("disable_gradient_checkpointing"):
        acts = arch.layers * layer
    else:
        acts = 2.0 * tokens * h * arch.layers + layer
    if cfg.get("neat_packing") and str(cfg.get("flash_attn", "auto")) != "fa2":
        acts += 2.0 * batch * cutoff * cutoff
    if str(cfg.get("flash_attn", "auto")) == "disabled":  # eager attention keeps scores and probs
        acts += 4.0 * batch * arch.heads * cutoff * cutoff
    chunked = cfg.get("enable_liger_kernel") and stage in ("pt", "sft")
    logits = 0.0 if chunked else 10.0 * tokens * arch.vocab
    parts = {"weights": weights, "lora+optimizer": state, "activations": acts, "logits": logits,
             "overhead": OVERHEAD_GIB * GiB}
    ref = reference_bytes(arch, cfg, tokens)
    if ref is not None:
        parts["reference"] = ref
    return _finish(parts)


def uses_reference(cfg: dict) -> bool:
    stage = str(cfg.get("stage", "sft"))
    return stage == "kto" or (stage == "dpo" and str(cfg.get("pref_loss", "sigmoid")) not in ("orpo", "simpo"))


def reference_bytes(arch: Arch, cfg: dict, tokens: int) -> float | None:
    """The reference model's cost in a preference stage (None outside dpo/kto; 0 for ORPO/SimPO)."""
    if str(cfg.get("stage", "sft")) not in ("dpo", "kto"):
        return None
    if not uses_reference(cfg):
        return 0.0
    forward = 6.0 * tokens * arch.vocab
    if cfg.get("ref_model") or cfg.get("finetuning_type", "lora") != "lora":
        forward += weight_bytes(arch, cfg.get("ref_model_quantization_bit"))
    return forward


def reference_note(cfg: dict, est: dict[str, float]) -> str | None:
    """What `hearme recipes check` says about a preference recipe's reference model."""
    if "reference" not in est:
        return None
    loss = f"{cfg.get('stage')}/{cfg.get('pref_loss', 'sigmoid')}" if cfg.get("stage") == "dpo" else "kto"
    if est["reference"] == 0:
        return f"{loss}: reference-free loss, no reference model (DPO would add its forward here)"
    where = ("a separate reference model (weights counted)" if cfg.get("ref_model") or cfg.get("finetuning_type", "lora") != "lora"
             else "the same weights with the adapter off (no weight memory)")
    return (f"{loss}: reference = {where}, {est['reference']:.1f} GiB of {est['total']:.1f}; LLaMA-Factory 0.9.5 has no "
            f"precompute_ref_log_probs, which would save those {est['reference']:.1f} GiB; pref_loss orpo needs none")


def generate_estimate(arch: Arch, cfg: dict) -> dict[str, float]:
    """Per-GPU GiB for predict / chat / api with the HF engine."""
    weights = weight_bytes(arch, cfg.get("quantization_bit"), cfg.get("double_quantization", True))
    batch = int(cfg.get("per_device_eval_batch_size", 1))
    seq = int(cfg.get("cutoff_len", 2048)) + int(cfg.get("max_new_tokens", 512))
    kv = 2 * arch.layers * arch.kv_heads * arch.hd * 2.0 * batch * seq
    prefill = 2.0 * batch * int(cfg.get("cutoff_len", 2048)) * (2 * arch.hidden + 2 * arch.intermediate)
    parts = {"weights": weights, "kv cache": kv, "activations": prefill, "overhead": OVERHEAD_GIB * GiB}
    return _finish(parts)


def _finish(parts: dict[str, float]) -> dict[str, float]:
    out = {k: v / GiB for k, v in parts.items()}
    out["total"] = sum(out.values())
    return out
