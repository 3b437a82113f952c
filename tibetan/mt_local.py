"""Local Hugging Face seq2seq translation (backend b): NLLB-200 or MADLAD-400, given by path.

NLLB: `src_lang="zho_Hans"`, target chosen by `forced_bos_token_id = id("bod_Tibt")`.
MADLAD-400 (T5): the target is a prefix token, `"<2bo> " + text`.
The style is detected from the tokenizer's vocabulary. Inputs longer than the limit are
split at clause punctuation, then by characters; batches are length-bucketed. Every finished
batch is appended to a JSONL cache (flushed and fsynced), so a killed job resumes for free.

`build_tiny(out_dir, style)` writes an offline random-weight model for tests and the demo.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Iterable

from hearme.core import io, paths
from hearme.core.progress import bar as progress_bar

STYLES = ("nllb", "madlad")
NLLB_SRC, NLLB_TGT, MADLAD_PREFIX = "zho_Hans", "bod_Tibt", "<2bo>"
_CLAUSE_RE = re.compile(r"(?<=[，,、；;：:])")


class LocalTranslator:
    def __init__(self, model_path: str | Path, *, style: str = "auto", device: str = "auto", num_beams: int = 4,
                 batch_size: int = 16, max_input_tokens: int = 256, max_new_tokens: int = 512,
                 cache_dir: str | Path | None = None, cache: bool = True):
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        paths.set_offline()
        path = Path(model_path)
        if not (path / "config.json").exists():
            raise io.InputError(path, "", "not a Hugging Face model directory (no config.json)")
        try:
            self.tok = AutoTokenizer.from_pretrained(path)
            model = AutoModelForSeq2SeqLM.from_pretrained(path)
        except (OSError, ValueError) as e:
            raise io.InputError(path, "", f"cannot load a seq2seq model ({' '.join(str(e).split())[:200]})") from None
        vocab = self.tok.get_vocab()
        if style == "auto":
            style = "nllb" if NLLB_TGT in vocab else "madlad" if MADLAD_PREFIX in vocab else ""
            if not style:
                raise io.InputError(path, "", f"cannot tell the model's style: its vocabulary has neither "
                                              f"{NLLB_TGT} (NLLB-200) nor {MADLAD_PREFIX} (MADLAD-400)")
        if style not in STYLES:
            raise io.HearMeError(f"--mt-style must be auto, nllb or madlad, got {style!r}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = model.to(device).eval()
        self.torch, self.device, self.style = torch, device, style
        if style == "nllb" and hasattr(self.tok, "src_lang"):
            self.tok.src_lang = NLLB_SRC
        limit = getattr(self.tok, "model_max_length", None) or max_input_tokens
        self.max_input_tokens = min(max_input_tokens, limit if limit < 10**9 else max_input_tokens)
        self.num_beams, self.batch_size, self.max_new_tokens = num_beams, batch_size, max_new_tokens
        self.name = f"local:{path.name}"
        self.cache = _LineCache(Path(cache_dir or paths.cache_dir()) / "mt" / f"{self._model_key(path)}.jsonl") \
            if cache else None
        self.stats = {"sentences": 0, "cache_hits": 0, "split_long": 0}

    def _model_key(self, path: Path) -> str:
        h = hashlib.sha256()
        h.update(str(path.resolve()).encode())
        for f in ("config.json", "generation_config.json"):
            if (path / f).exists():
                h.update((path / f).read_bytes())
        h.update(json.dumps([self.style, self.num_beams, self.max_new_tokens]).encode())
        return h.hexdigest()[:24]

    def _ntok(self, text: str) -> int:
        return len(self.tok(text, add_special_tokens=True)["input_ids"])

    def pieces(self, sentence: str) -> list[str]:
        """The sentence, or its clauses / character chunks when it is over the input limit."""
        budget = self.max_input_tokens - 2
        if self._ntok(sentence) <= budget:
            return [sentence]
        self.stats["split_long"] += 1
        out: list[str] = []
        for clause in (c for c in _CLAUSE_RE.split(sentence) if c):
            if self._ntok(clause) <= budget:
                out.append(clause)
                continue
            chunk = ""
            for ch in clause:  # hard split, for clause-free runs
                if chunk and self._ntok(chunk + ch) > budget:
                    out.append(chunk)
                    chunk = ""
                chunk += ch
            if chunk:
                out.append(chunk)
        return out

    def translate(self, sentences: list[str], progress: bool = False) -> list[str]:
        """Translate sentences (each under the limit or split by `pieces`), cached."""
        units = [self.pieces(s) for s in sentences]
        flat = sorted({p for u in units for p in u})
        done = self.cache.load() if self.cache else {}
        todo = [p for p in flat if _key(p) not in done]
        self.stats["sentences"] += len(flat)
        self.stats["cache_hits"] += len(flat) - len(todo)
        todo.sort(key=len)
        bar = progress_bar(len(todo), "translate (local)", "sent", enabled=progress)
        for i in range(0, len(todo), self.batch_size):
            batch = todo[i:i + self.batch_size]
            outs = self._generate(batch)
            new = {_key(s): t for s, t in zip(batch, outs)}
            done.update(new)
            if self.cache:
                self.cache.append(new)
            if bar:
                bar.update(len(batch))
        if bar:
            bar.close()
        return [" ".join(done[_key(p)].strip() for p in u).strip() for u in units]

    def _generate(self, batch: list[str]) -> list[str]:
        torch = self.torch
        texts = [f"{MADLAD_PREFIX} {s}" for s in batch] if self.style == "madlad" else batch
        enc = self.tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_input_tokens)
        enc.pop("token_type_ids", None)
        kw = {}
        if self.style == "nllb":
            kw["forced_bos_token_id"] = self.tok.convert_tokens_to_ids(NLLB_TGT)
        longest = int(enc["input_ids"].shape[1])
        with torch.inference_mode():
            out = self.model.generate(**{k: v.to(self.device) for k, v in enc.items()}, num_beams=self.num_beams,
                                      do_sample=False, max_new_tokens=min(self.max_new_tokens, 4 * longest + 16), **kw)
        return self.tok.batch_decode(out, skip_special_tokens=True)


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class _LineCache:
    """Append-only JSONL {key: translation}; a torn last line (kill -9) is ignored on load."""

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[str, str]:
        out: dict[str, str] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return out
        for ln in lines:
            try:
                out.update(json.loads(ln))
            except json.JSONDecodeError:
                continue
        return out

    def append(self, entries: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entries, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


# ---------------------------------------------------------------- the tiny offline model

def build_tiny(out_dir: str | Path, style: str = "madlad", seed: int = 0, texts: Iterable[str] | None = None) -> Path:
    """A random-weight seq2seq model with a Unigram tokenizer trained on the bundled text."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (M2M100Config, M2M100ForConditionalGeneration, PreTrainedTokenizerFast, T5Config,
                              T5ForConditionalGeneration)

    if style not in STYLES:
        raise io.HearMeError(f"style must be nllb or madlad, got {style!r}")
    out = Path(out_dir)
    corpus = list(texts) if texts is not None else \
        (paths.ASSETS / "tokenizer_corpus.txt").read_text(encoding="utf-8").splitlines()
    specials = ["<pad>", "</s>", "<unk>", MADLAD_PREFIX if style == "madlad" else NLLB_TGT]
    if style == "nllb":
        specials.append(NLLB_SRC)
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(corpus, trainer=trainers.UnigramTrainer(vocab_size=800, special_tokens=specials,
                                                                    unk_token="<unk>", show_progress=False))
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                 additional_special_tokens=specials[3:])
    hf.model_max_length = 128
    torch.manual_seed(seed)
    if style == "madlad":
        cfg = T5Config(vocab_size=len(hf), d_model=32, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2,
                       d_kv=16, decoder_start_token_id=hf.pad_token_id, pad_token_id=hf.pad_token_id,
                       eos_token_id=hf.eos_token_id)
        model = T5ForConditionalGeneration(cfg)
    else:
        cfg = M2M100Config(vocab_size=len(hf), d_model=32, encoder_layers=1, decoder_layers=1,
                           encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                           decoder_ffn_dim=64, max_position_embeddings=256, pad_token_id=hf.pad_token_id,
                           eos_token_id=hf.eos_token_id, decoder_start_token_id=hf.eos_token_id,
                           bos_token_id=hf.eos_token_id)
        model = M2M100ForConditionalGeneration(cfg)
    # Random weights would emit any piece; suppress the non-Tibetan ones so the stand-in writes
    # Tibetan-looking garbage (what an untrained MT model gives) rather than nothing.
    from hearme.tibetan import text as T

    model.generation_config.suppress_tokens = [i for t, i in sorted(hf.get_vocab().items(), key=lambda kv: kv[1])
                                               if t not in specials[1:] and T.tibetan_share(t) < 1.0]
    model.generation_config.min_new_tokens = 4
    tmp = out.with_name(f".{out.name}.partial")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    hf.save_pretrained(tmp)
    model.save_pretrained(tmp)
    io.write_json(tmp / "hearme_tiny_mt.json", {"style": style, "parameters": sum(p.numel() for p in model.parameters()),
                                                "vocab": len(hf)})
    out.mkdir(parents=True, exist_ok=True)
    for f in tmp.iterdir():
        f.replace(out / f.name)
    tmp.rmdir()
    return out
