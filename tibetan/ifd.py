"""Multi-turn Instruction-Following Difficulty (Cherry LLM's IFD, for whole dialogues).

For every assistant turn t with answer tokens A_t:
    CAS_t = mean cross-entropy of A_t given the whole history before it,
    DAS_t = mean cross-entropy of A_t alone (after one start token),
    IFD_t = CAS_t / DAS_t.
Both scores cover exactly the same token ids. A dialogue's IFD is the mean of its turns'
IFD (`--aggregate mean`) or the token-weighted ratio (`--aggregate tokens`).

Speed: the causal mask gives every answer's CAS from ONE forward pass over the dialogue (the
paper's Figure 4 trick); DAS passes are short. All passes are length-bucketed into batches
under a token budget, right-padded (no attention mask needed under causal attention), and the
LM head runs only where a scored token is predicted. Histories longer than the model limit are
cut from the left per answer, so the batched values equal the one-at-a-time values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from hearme.core import io
from hearme.core.progress import bar as progress_bar


@dataclass
class Turn:
    start: int        # answer token span [start, end) in the dialogue's ids
    end: int
    index: int        # position of the assistant message in the record's messages


@dataclass
class Encoded:
    ids: list[int]
    turns: list[Turn]
    das_prefix: list[int]                 # the start token for DAS ([] = none: first token unscored)
    notes: list[str] = field(default_factory=list)


@dataclass
class Pass:
    """One forward pass: token ids plus the (record, turn, kind, first scored pos, end) spans in it."""

    ids: list[int]
    spans: list[tuple[int, int, str, int, int]]


class Scorer:
    """Loads a causal LM once; `score(records)` returns per-record IFD results."""

    def __init__(self, model_path: str | Path, *, adapter: str | Path | None = None, device: str = "auto",
                 dtype: str = "auto", template: bool = True, max_length: int | None = None,
                 max_batch_tokens: int = 8192, max_batch_size: int = 64):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from hearme.core import paths

        paths.set_offline()
        path = Path(model_path)
        if not path.exists():
            raise io.InputError(path, "", "no such model directory")
        try:
            self.tok = AutoTokenizer.from_pretrained(path, trust_remote_code=True)
        except (OSError, ValueError) as e:
            raise io.InputError(path, "", f"cannot load a tokenizer ({' '.join(str(e).split())[:200]})") from None
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        torch_dtype = {"auto": torch.float32 if device == "cpu" else torch.bfloat16, "float32": torch.float32,
                       "bfloat16": torch.bfloat16, "float16": torch.float16}.get(dtype)
        if torch_dtype is None:
            raise io.HearMeError(f"--dtype must be auto, float32, bfloat16 or float16, got {dtype!r}")
        try:
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, trust_remote_code=True)
        except (OSError, ValueError) as e:
            raise io.InputError(path, "", f"cannot load a causal LM ({' '.join(str(e).split())[:200]})") from None
        if adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter))
        self.model = model.to(device).eval()
        self.device, self.torch = device, torch
        self.split_head = _split_head(self.model)
        self.template = template and bool(getattr(self.tok, "chat_template", None))
        self.notes = [] if self.template or not template else ["the tokenizer has no chat template: scored as plain text"]
        limit = max_length or getattr(self.model.config, "max_position_embeddings", None) or 2048
        tok_limit = getattr(self.tok, "model_max_length", None)
        if tok_limit and tok_limit < 10**9:
            limit = min(limit, tok_limit)
        self.max_length = int(limit)
        self.max_batch_tokens, self.max_batch_size = max_batch_tokens, max_batch_size
        self.pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else (self.tok.eos_token_id or 0)
        start = self.tok.bos_token_id if self.tok.bos_token_id is not None else self.tok.eos_token_id
        self.start = [start] if start is not None else []

    # ------------------------------------------------------------ encoding

    def _segments(self, messages: list[dict]) -> list[tuple[str, int | None]]:
        """The dialogue as text pieces; an assistant content piece carries its message index."""
        if not self.template:
            pieces: list[tuple[str, int | None]] = []
            for i, m in enumerate(messages):
                if pieces:
                    pieces.append(("\n", None))
                pieces.append((m["content"], i if m["role"] == "assistant" else None))
            return pieces
        text = self.tok.apply_chat_template(messages, tokenize=False)
        pieces, cursor = [], 0
        for i, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            content = m["content"].strip()
            at = text.find(content, cursor)
            if at < 0:
                raise io.HearMeError("the chat template changes assistant replies (it adds or strips text); "
                                     "score with --no-template")
            pieces += [(text[cursor:at], None), (content, i)]
            cursor = at + len(content)
        pieces.append((text[cursor:], None))
        return [p for p in pieces if p[0]]

    def encode(self, record: dict) -> Encoded:
        msgs = record["messages"]
        ids: list[int] = []
        bos = self.tok.bos_token_id
        turns = []
        for text, idx in self._segments(msgs):
            piece = self.tok(text, add_special_tokens=False)["input_ids"]
            if idx is not None and piece:
                turns.append(Turn(len(ids), len(ids) + len(piece), idx))
            ids += piece
        if bos is not None and (not ids or ids[0] != bos):
            ids = [bos] + ids
            turns = [Turn(t.start + 1, t.end + 1, t.index) for t in turns]
        return Encoded(ids, turns, self.start)

    def passes(self, records: Sequence[dict], *, shared: bool = True) -> tuple[list[Pass], list[Encoded]]:
        """Every forward pass needed: one DAS pass per answer, and for CAS one pass per dialogue
        (shared=True; more when it is too long) or one per answer (shared=False, Cherry's loop)."""
        L = self.max_length
        out, encs = [], []
        for r, rec in enumerate(records):
            enc = self.encode(rec)
            encs.append(enc)
            fits = [k for k, t in enumerate(enc.turns) if t.end <= L] if shared else []
            if fits:
                hi = max(enc.turns[k].end for k in fits)
                out.append(Pass(enc.ids[:hi], [(r, k, "cas", max(enc.turns[k].start, 1), enc.turns[k].end)
                                               for k in fits]))
            for k, t in enumerate(enc.turns):
                if k not in fits:  # its own window; the history is cut from the left beyond the limit
                    lo = max(t.end - L, 0)
                    out.append(Pass(enc.ids[lo:t.end], [(r, k, "cas", max(t.start - lo, 1), t.end - lo)]))
                answer = enc.ids[t.start:t.end]
                keep = L - len(enc.das_prefix)
                if len(answer) > keep:
                    answer = answer[-keep:]
                    enc.notes.append(f"message {t.index}: answer longer than {L} tokens, scored on its last {keep}")
                first = len(enc.das_prefix) if enc.das_prefix else 1
                out.append(Pass(enc.das_prefix + answer, [(r, k, "das", first, len(enc.das_prefix) + len(answer))]))
            if not enc.das_prefix and enc.turns:
                enc.notes.append("no BOS/EOS token: the first answer token is not scored")
        return out, encs

    # ------------------------------------------------------------ forward passes

    def run_passes(self, passes: list[Pass], *, batched: bool = True, progress: bool = False) -> dict:
        """{(record, turn, kind): (sum of CE, tokens)} for every span."""
        torch = self.torch
        order = sorted(range(len(passes)), key=lambda i: -len(passes[i].ids))
        batches: list[list[int]] = []
        for i in order:  # longest first, so a batch's width is its first pass's length
            cur = batches[-1] if batches else None
            if batched and cur and (len(cur) + 1) * len(passes[cur[0]].ids) <= self.max_batch_tokens \
                    and len(cur) < self.max_batch_size:
                cur.append(i)
            else:
                batches.append([i])
        results: dict = {}
        bar = progress_bar(len(batches), "IFD", "batch", enabled=progress)
        with torch.inference_mode():
            for batch in batches:
                width = max(len(passes[i].ids) for i in batch)
                ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                for row, i in enumerate(batch):
                    p = passes[i].ids
                    ids[row, :len(p)] = torch.tensor(p, dtype=torch.long)
                ids = ids.to(self.device)
                if batched and self.split_head:
                    self._ce_at_spans(ids, [passes[i] for i in batch], batch, results)
                else:  # the whole-logits path: Cherry LLM's loop computes exactly this
                    self._ce_full(ids, [passes[i] for i in batch], batch, results)
                if bar:
                    bar.update(1)
        if bar:
            bar.close()
        return results

    # Right padding under causal attention: real tokens never see the pads after them, so no
    # attention mask is needed and SDPA keeps its fast causal kernel (same values).
    def _ce_full(self, ids, passes: list[Pass], batch: list[int], results: dict) -> None:
        logits = self.model(input_ids=ids).logits
        logp = self.torch.log_softmax(logits[:, :-1].float(), dim=-1)  # token j predicted at j-1
        ce = -logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1).cpu().double()
        for row, (i, p) in enumerate(zip(batch, passes)):
            for r, k, kind, a, b in p.spans:
                results[(r, k, kind)] = (float(ce[row, a - 1:b - 1].sum()), b - a)

    def _ce_at_spans(self, ids, passes: list[Pass], batch: list[int], results: dict) -> None:
        """The LM head and softmax only where a scored token is predicted: far less memory
        than [batch, width, vocab] logits with a large vocabulary, and less compute."""
        torch = self.torch
        backbone, head = self.split_head
        hidden = backbone(input_ids=ids).last_hidden_state
        rows, cols, owners = [], [], []
        for row, (i, p) in enumerate(zip(batch, passes)):
            for span in p.spans:
                a, b = span[3], span[4]
                rows += [row] * (b - a)
                cols += range(a - 1, b - 1)
                owners.append((span, b - a))
        r_idx = torch.tensor(rows, device=ids.device)
        c_idx = torch.tensor(cols, device=ids.device)
        logp = torch.log_softmax(head(hidden[r_idx, c_idx]).float(), dim=-1)
        ce = -logp.gather(-1, ids[r_idx, c_idx + 1].unsqueeze(-1)).squeeze(-1).cpu().double()
        pos = 0
        for (r, k, kind, a, b), n in owners:
            results[(r, k, kind)] = (float(ce[pos:pos + n].sum()), n)
            pos += n

    def score(self, records: Sequence[dict], *, batched: bool = True, aggregate: str = "mean",
              progress: bool = False) -> list[dict]:
        """batched=False is the one-at-a-time baseline: one CAS and one DAS pass per answer, unbatched."""
        if aggregate not in ("mean", "tokens"):
            raise io.HearMeError(f"--aggregate must be mean or tokens, got {aggregate!r}")
        passes, encs = self.passes(records, shared=batched)
        res = self.run_passes(passes, batched=batched, progress=progress)
        out = []
        for r, (rec, enc) in enumerate(zip(records, encs)):
            turns = []
            for k, t in enumerate(enc.turns):
                cs, cn = res[(r, k, "cas")]
                ds, dn = res[(r, k, "das")]
                cas, das = cs / max(cn, 1), ds / max(dn, 1)
                turns.append({"message": t.index, "tokens": cn, "cas": cas, "das": das,
                              "ifd": cas / das if das > 0 else math.nan})
            out.append(_aggregate(rec, turns, aggregate, enc.notes))
        return out


def _split_head(model):
    """(backbone, lm_head) when logits are exactly lm_head(last hidden state), else None."""
    cfg = getattr(model, "config", None)
    if any(getattr(cfg, k, None) for k in ("final_logit_softcapping", "logit_scale", "logits_scaling")):
        return None
    try:
        backbone, head = model.get_decoder(), model.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        return None
    if backbone is None or head is None or backbone is model:
        return None
    return backbone, head


def _aggregate(rec: dict, turns: list[dict], how: str, notes: list[str]) -> dict:
    valid = [t for t in turns if t["tokens"] > 0 and not math.isnan(t["ifd"])]
    if not valid:
        ifd = cas = das = math.nan
    elif how == "tokens":
        cas = sum(t["cas"] * t["tokens"] for t in valid) / sum(t["tokens"] for t in valid)
        das = sum(t["das"] * t["tokens"] for t in valid) / sum(t["tokens"] for t in valid)
        ifd = cas / das if das > 0 else math.nan
    else:
        cas = sum(t["cas"] for t in valid) / len(valid)
        das = sum(t["das"] for t in valid) / len(valid)
        ifd = sum(t["ifd"] for t in valid) / len(valid)
    return {"id": rec.get("id", ""), "topic": rec.get("topic", ""), "ifd": ifd, "cas": cas, "das": das,
            "aggregate": how, "turns": turns, **({"notes": notes} if notes else {})}


# ---------------------------------------------------------------- selection

def select(records: list[dict], scores: list[dict], *, top_fraction: float | None = None, top_n: int | None = None,
           max_ifd: float = 1.0, source: str | Path | None = None) -> tuple[list[dict], io.Tally]:
    """Drop IFD > max_ifd (Cherry), then keep the highest IFD by fraction or count (or all)."""
    if top_fraction is not None and top_n is not None:
        raise io.HearMeError("give --top-fraction or --top-n, not both")
    if top_fraction is not None and not 0 < top_fraction <= 1:
        raise io.HearMeError(f"--top-fraction must be within (0, 1], got {top_fraction}")
    tally = io.Tally()
    tally.read = len(records)
    ok = []
    for i, (rec, s) in enumerate(zip(records, scores)):
        ifd = s["ifd"]
        if math.isnan(ifd):
            tally.reject(source, s["id"] or f"record {i}", "ifd: no scorable assistant tokens", rec)
        elif ifd > max_ifd:
            tally.reject(source, s["id"] or f"record {i}", f"ifd: {ifd:.4f} > {max_ifd:g} (the history does not help)", rec)
        else:
            ok.append(i)
    ok.sort(key=lambda i: -scores[i]["ifd"])
    n = len(ok) if top_fraction is None and top_n is None else \
        min(len(ok), top_n if top_n is not None else math.ceil(top_fraction * len(ok)))
    chosen, dropped = ok[:n], ok[n:]
    cut = scores[chosen[-1]]["ifd"] if chosen else math.nan
    for i in dropped:
        tally.reject(source, scores[i]["id"] or f"record {i}",
                     f"ifd: {scores[i]['ifd']:.4f} below the selection cut {cut:.4f}", records[i])
    kept = []
    for i in sorted(chosen):  # original order
        rec = dict(records[i], ifd=f"{scores[i]['ifd']:.6f}")
        kept.append(rec)
    tally.written = len(kept)
    return kept, tally


def run(inp: str | Path, out: str | Path, model: str | Path, *, adapter: str | None = None,
        top_fraction: float | None = None, top_n: int | None = None, max_ifd: float = 1.0,
        template: bool = True, aggregate: str = "mean", device: str = "auto", dtype: str = "auto",
        max_length: int | None = None, max_batch_tokens: int = 8192, progress: bool = True) -> dict:
    """Score `inp`, write the selection to `out`, scores to `<out>.ifd.jsonl`; return a report."""
    inp, out = Path(inp), Path(out)
    records = io.load_records(inp)
    if not records:
        raise io.InputError(inp, "", "no records")
    scorer = Scorer(model, adapter=adapter, device=device, dtype=dtype, template=template, max_length=max_length,
                    max_batch_tokens=max_batch_tokens)
    scores = scorer.score(records, aggregate=aggregate, progress=progress)
    kept, tally = select(records, scores, top_fraction=top_fraction, top_n=top_n, max_ifd=max_ifd, source=inp)
    io.write_records(out, kept)
    tally.write_rejects(out)
    io.write_jsonl(scores_path(out), scores)
    assert tally.balanced
    vals = [s["ifd"] for s in scores if not math.isnan(s["ifd"])]
    report = {"input": str(inp), "output": str(out), "model": str(model), **tally.as_dict(),
              "template": scorer.template, "aggregate": aggregate, "max_length": scorer.max_length,
              "device": scorer.device, "notes": scorer.notes,
              "ifd": {"mean": sum(vals) / len(vals) if vals else None, "min": min(vals, default=None),
                      "max": max(vals, default=None), "above_max": sum(v > max_ifd for v in vals)}}
    io.write_json(out.with_name(out.name.rsplit(".", 1)[0] + ".ifd.json"), report)
    return report


def scores_path(out: Path) -> Path:
    return out.with_name(out.name.rsplit(".", 1)[0] + ".ifd.jsonl")
