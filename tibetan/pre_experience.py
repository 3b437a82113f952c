"""A quick "pre-experience" model for IFD (the paper tunes a small model on ~1,000 topic-balanced
dialogues first, then scores IFD with it).

For real models, train with LLaMA-Factory (`hearme select --per-topic N`, then a train recipe)
and pass the result to `hearme tibetan ifd --model`. This in-process loop is for the demo and
tests: full fine-tuning of a tiny causal LM on the assistant tokens only, the same token spans
IFD scores (hearme.tibetan.ifd.Scorer.encode), in a few seconds on CPU.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

from hearme.core import io


def train(model_path: str | Path, records: Sequence[dict], out_dir: str | Path, *, steps: int = 60,
          lr: float = 3e-3, batch_size: int = 4, template: bool = True, seed: int = 0,
          max_tokens: int = 512) -> Path:
    import torch

    from hearme.tibetan.ifd import Scorer

    if not records:
        raise io.HearMeError("pre-experience training needs at least one record")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    scorer = Scorer(model_path, device="cpu", dtype="float32", template=template)
    model, tok, L = scorer.model, scorer.tok, min(scorer.max_length, max_tokens)
    threads = torch.get_num_threads()
    if sum(p.numel() for p in model.parameters()) < 10_000_000:
        torch.set_num_threads(1)  # tiny matrices: one thread is faster, and far faster on a busy machine
    examples = []
    for rec in records:
        enc = scorer.encode(rec)
        labels = [-100] * len(enc.ids)
        for t in enc.turns:
            labels[t.start:t.end] = enc.ids[t.start:t.end]
        examples.append((enc.ids[:L], labels[:L]))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    for _ in range(steps):
        batch = [examples[rng.randrange(len(examples))] for _ in range(batch_size)]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.full((len(batch), width), scorer.pad_id, dtype=torch.long)
        lab = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (x, y) in enumerate(batch):
            ids[row, :len(x)], lab[row, :len(y)], mask[row, :len(x)] = torch.tensor(x), torch.tensor(y), 1
        loss = model(input_ids=ids, attention_mask=mask, labels=lab).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    torch.set_num_threads(threads)
    out = Path(out_dir)
    tmp = out.with_name(f".{out.name}.partial")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    tok.save_pretrained(tmp)
    model.save_pretrained(tmp)
    io.write_json(tmp / "hearme_pre_experience.json", {"base": str(model_path), "records": len(records),
                                                      "steps": steps, "lr": lr, "final_loss": float(loss.detach())})
    out.mkdir(parents=True, exist_ok=True)
    for f in tmp.iterdir():
        f.replace(out / f.name)
    tmp.rmdir()
    return out
