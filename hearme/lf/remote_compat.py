"""Run the documents' own remote-code models (ChatGLM3-6B, Baichuan2) on the transformers HearMe ships.

Their `trust_remote_code` files were written for transformers 4.3x. Under 5.x ChatGLM3 cannot be
built (`config.max_length` is gone) and neither model generates (`generate` hands them a
`DynamicCache`, and ChatGLM3 overrides `_update_model_kwargs_for_generation` with a call to the
removed `_extract_past_from_model_output(standardize_cache_format=...)`); ChatGLM3's tokenizer
fails on every call that pads (`_pad()` got `padding_side`). The stock Baichuan2 tokenizer calls
`super().__init__` before loading `sp_model` (transformers >= 4.34 then asks it for the vocabulary).

The user's files stay as they are. transformers loads remote code through
`dynamic_module_utils.get_class_in_module`; HearMe wraps that function (from the plugin's
import hook, `hearme.lf.plugin`), so right after a remote module is executed its classes are
patched in memory. Each file is identified by the sha256 of its content: only revisions
listed in KNOWN are patched. Any other revision of these files gets a one-line message naming
its hash and nothing is changed (HEARME_REMOTE_COMPAT=force patches it anyway, at your risk;
HEARME_REMOTE_COMPAT=0 switches all of this off).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Callable

# sha256 of a remote-code file -> the revision it is (see ../shared/fixtures/remote_code/SOURCES.md).
KNOWN = {
    "351ba435758670b27c160b7657c7ab1d32053c4e8c0606a5a9b8f9908249dec8":
        "ChatGLM3-6B configuration_chatglm.py, THUDM Dec 2023 (copy czk1997/chatglm3-copy@456aa87)",
    "440d89faea5c3ea47fd2778abde970008d170cacb743aafcaf822cdaa5627ee0":
        "ChatGLM3-6B modeling_chatglm.py, THUDM Dec 2023 (copy czk1997/chatglm3-copy@456aa87)",
    "f3e7e26af20b222d107f888a3db305a1a25ea74c16952d36257e0e606d1780f6":
        "ChatGLM3-6B tokenization_chatglm.py, THUDM Dec 2023 (copy czk1997/chatglm3-copy@456aa87)",
    "2322773e84ea18cc06c96f38ad072d7806a589f3357110eba619e12b691b87c3":
        "Baichuan2-13B configuration_baichuan.py (copy Egber1t/Ting-Gong1.0@982d189)",
    "5528414102356ad3022ef39cefa8065149a7f1b99bac9bc615fdf7fecf5a0a78":
        "Baichuan2-13B modeling_baichuan.py, ALiBi (copy Egber1t/Ting-Gong1.0@982d189; its xformers branch uses SDPA)",
    "5f0bfc927df5e8aae3e1ad1fd3e26be39068eb40ae3a1b70cb0838a2e3cae8cb":
        "Baichuan2 tokenization_baichuan.py with sp_model loaded first (copy DSXiangLi/LongBaichuan@f356a3e)",
}
ENV = "HEARME_REMOTE_COMPAT"
_warned: set[str] = set()


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- ChatGLM3
def _chatglm_config(module) -> list[str]:
    cls = module.ChatGLMConfig
    # transformers' caches and LLaMA-Factory look for num_hidden_layers; ChatGLM calls it num_layers.
    cls.attribute_map = {**cls.attribute_map, "num_hidden_layers": "num_layers"}
    return ["num_hidden_layers -> num_layers"]


def _chatglm_modeling(module) -> list[str]:
    import torch

    cls = module.ChatGLMForConditionalGeneration
    original_init = cls.__init__

    def __init__(self, config, *args, **kwargs):
        # 5.x removed max_length from PretrainedConfig; the model only copies it into an unused
        # attribute. Lend it for the constructor only: a config holding it cannot be saved in 5.x.
        lent = "max_length" not in config.__dict__
        if lent:
            config.__dict__["max_length"] = config.seq_length
        try:
            original_init(self, config, *args, **kwargs)
        finally:
            if lent:
                config.__dict__.pop("max_length", None)
                if self.generation_config.max_length == config.seq_length:
                    self.generation_config.max_length = type(self.generation_config)().max_length
        if _major() >= 5 and not hasattr(self, "all_tied_weights_keys"):  # 5.x's loader reads what post_init() records
            self.post_init()

    def _update_model_kwargs_for_generation(self, outputs, model_kwargs, is_encoder_decoder=False,
                                            num_new_tokens=1, **_):
        # The model's own update, minus the removed _extract_past_from_model_output: its cache
        # stays the legacy tuple the model reads and writes.
        model_kwargs["past_key_values"] = outputs.past_key_values
        if "attention_mask" in model_kwargs:
            mask = model_kwargs["attention_mask"]
            model_kwargs["attention_mask"] = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
        if "position_ids" in model_kwargs:
            pos = model_kwargs["position_ids"]
            model_kwargs["position_ids"] = torch.cat([pos, pos[..., -1:] + 1], dim=-1)
        model_kwargs["is_first_forward"] = False
        return model_kwargs

    cls.__init__ = __init__
    cls._update_model_kwargs_for_generation = _update_model_kwargs_for_generation
    _legacy_cache(cls)
    return ["max_length lent to __init__", "post_init() called", "_update_model_kwargs_for_generation without standardize_cache_format",
            "legacy tuple cache in generate"]


def _chatglm_tokenizer(module) -> list[str]:
    cls = module.ChatGLMTokenizer
    own_pad = cls._pad

    def _pad(self, encoded_inputs, max_length=None, padding_strategy=None, pad_to_multiple_of=None,
             padding_side=None, return_attention_mask=None, **kwargs):
        from transformers import PreTrainedTokenizerBase
        from transformers.utils import PaddingStrategy

        if (padding_side or self.padding_side) != "left":  # ChatGLM's own _pad asserts left padding
            return PreTrainedTokenizerBase._pad(self, encoded_inputs, max_length, padding_strategy, pad_to_multiple_of,
                                                padding_side, return_attention_mask, **kwargs)
        return own_pad(self, encoded_inputs, max_length, padding_strategy or PaddingStrategy.DO_NOT_PAD,
                       pad_to_multiple_of, return_attention_mask)

    cls._pad = _pad
    return ["_pad accepts padding_side"]


# ---------------------------------------------------------------- Baichuan2
def _baichuan_modeling(module) -> list[str]:
    cls = module.BaichuanForCausalLM
    _legacy_cache(cls)
    # forward(**kwargs) makes the Trainer believe it sums the loss over num_items_in_batch; it
    # returns a mean, so the loss (and gradients) would be multiplied by gradient_accumulation_steps.
    cls.accepts_loss_kwargs = False
    return ["legacy tuple cache in generate", "accepts_loss_kwargs = False (mean loss)"]


def _baichuan_tokenizer(module) -> list[str]:
    cls = module.BaichuanTokenizer
    original_init = cls.__init__

    def __init__(self, vocab_file, *args, sp_model_kwargs=None, **kwargs):
        # The stock file calls super().__init__ before loading sp_model, and transformers >= 4.34
        # asks for the vocabulary there. Load it first; the original __init__ loads it again.
        import sentencepiece as spm

        self.sp_model_kwargs = sp_model_kwargs or {}
        self.vocab_file = vocab_file
        self.sp_model = spm.SentencePieceProcessor(**self.sp_model_kwargs)
        self.sp_model.Load(vocab_file)
        original_init(self, vocab_file, *args, sp_model_kwargs=sp_model_kwargs, **kwargs)

    original_save = cls.save_pretrained

    def save_pretrained(self, save_directory, *args, **kwargs):
        # 5.x drops add_bos_token / add_eos_token when saving, so an exported Baichuan2 would
        # start adding <s> (the class default) to every encode. Write them back.
        import json

        files = original_save(self, save_directory, *args, **kwargs)
        path = Path(save_directory) / "tokenizer_config.json"
        if path.exists():
            cfg = json.loads(path.read_text(encoding="utf-8"))
            cfg.update(add_bos_token=self.add_bos_token, add_eos_token=self.add_eos_token)
            path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return files

    cls.__init__ = __init__
    cls.save_pretrained = save_pretrained
    return ["sp_model loaded before super().__init__", "add_bos_token / add_eos_token kept on save"]


def _major() -> int:
    import transformers

    return int(transformers.__version__.split(".")[0])


def _legacy_cache(cls) -> None:
    """generate() must not hand this model a DynamicCache: it reads and returns tuples of (k, v)."""
    cls._supports_default_dynamic_cache = classmethod(lambda c: False)


PATCHES: dict[str, Callable] = {
    "configuration_chatglm.py": _chatglm_config,
    "modeling_chatglm.py": _chatglm_modeling,
    "tokenization_chatglm.py": _chatglm_tokenizer,
    "configuration_baichuan.py": lambda module: [],
    "modeling_baichuan.py": _baichuan_modeling,
    "tokenization_baichuan.py": _baichuan_tokenizer,
}


# ---------------------------------------------------------------- the hook
def mode() -> str:
    return os.environ.get(ENV, "1")


def patch_module(module) -> list[str]:
    """Patch one freshly executed remote-code module if it is a known revision; returns what was done."""
    path = getattr(module, "__file__", None)
    patch = PATCHES.get(Path(path).name) if path else None
    if patch is None or mode() == "0" or module.__dict__.get("__hearme_compat__") == _classes_of(module):
        return []
    digest = sha256(path)
    if digest not in KNOWN and mode() != "force":
        if digest not in _warned:
            _warned.add(digest)
            sys.stderr.write(
                f"[hearme] {Path(path).name} (sha256 {digest[:12]}) is a revision HearMe has not verified: no "
                f"compatibility patches applied, so expect failures under transformers 5.x (known revisions: "
                f"`hearme recipes plugin status --model DIR`; to try the patches anyway: {ENV}=force)\n")
        return []
    done = patch(module)
    module.__hearme_compat__ = _classes_of(module)
    return done


def _classes_of(module) -> tuple[int, ...]:
    """Identity of the module's classes: new objects whenever transformers re-executes the module."""
    return tuple(id(v) for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__)


def patch_package(module_name: str) -> None:
    """Patch a loaded remote module and its siblings (its relative imports, e.g. the config module)."""
    package = module_name.rpartition(".")[0]
    for name, module in list(sys.modules.items()):
        if module is not None and name.rpartition(".")[0] == package:
            patch_module(module)


def install(dmu=None) -> bool:
    """Wrap transformers.dynamic_module_utils.get_class_in_module (idempotent)."""
    if mode() == "0":
        return False
    if dmu is None:
        import transformers.dynamic_module_utils as dmu
    original = dmu.get_class_in_module
    if getattr(original, "__hearme__", False):
        return True

    def get_class_in_module(class_name, module_path, *args, **kwargs):
        cls = original(class_name, module_path, *args, **kwargs)
        if cls.__module__.startswith("transformers_modules."):
            patch_package(cls.__module__)
        return cls

    get_class_in_module.__hearme__ = True
    get_class_in_module.__wrapped__ = original
    dmu.get_class_in_module = get_class_in_module
    return True


def status(model_dir) -> list[tuple[str, str, str]]:
    """(file, sha256, revision or 'unknown') for the remote-code files of a model directory."""
    rows = []
    for f in sorted(Path(model_dir).glob("*.py")):
        if f.name in PATCHES:
            digest = sha256(f)
            rows.append((f.name, digest, KNOWN.get(digest, "unknown")))
    return rows
