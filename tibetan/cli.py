"""`hearme tibetan ...`: the Tibetan pipeline's commands.

multiturn -> (expand) -> translate -> filter -> ifd -> stats, plus segment, lm-train,
lm-score, tiny-mt and demo. Heavy imports (torch, transformers, numpy) stay inside commands.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import List, Optional

import typer

from hearme.core import io
from hearme.llm import LLMConfig, llm_options
from hearme.tibetan.reask import reason_kind
from hearme.tibetan.throughput import Stopwatch

tib_app = typer.Typer(help="Tibetan pipeline: rewrite, translate, filter, IFD-select and describe dialogues.",
                      no_args_is_help=True)


def _echo(msg: str = "", err: bool = False) -> None:
    typer.echo(msg, err=err)


def _summary(report: dict, out: Path | None, timing: str | None = None) -> None:
    """Notes, the most common rejection reasons, the side file, read/written/rejected, then `timing`."""
    for key, n in sorted((report.get("notes") or {}).items()):
        _echo(f"  {key}: {n}")
    for rule, c in (report.get("gate") or (report.get("backend_stats") or {}).get("gate") or {}).items():
        _echo(f"  gate {rule}: " + ", ".join(f"{k} {v}" for k, v in c.items() if v))  # docs/gate.md
    if report.get("rejected") and out is not None:
        try:
            reasons = Counter(reason_kind(json.loads(x)["reason"])
                              for x in io.rejected_path(out).read_text(encoding="utf-8").splitlines() if x.strip())
            for reason, n in reasons.most_common(5):
                _echo(f"  rejected {n}: {reason}")
        except (OSError, ValueError, KeyError):
            pass
        _echo(f"  rejections with position and reason: {io.rejected_path(out)}")
    _echo(f"read={report['read']} written={report['written']} rejected={report['rejected']}")
    if timing:
        _echo(timing)


def _register(out: Path, name: str, dataset_dir: Optional[Path]) -> None:
    from hearme.core import registry

    entry = registry.register(out, name, dataset_dir, lang="bo")
    _echo(f"registered {name}: {entry['records']} records -> {registry.registry_path(dataset_dir)}")


RegisterAs = typer.Option(None, "--register", help="Also register OUT in dataset_info.json under this name.")
DatasetDir = typer.Option(None, "--dataset-dir", help="Directory of dataset_info.json [default: repository root].")


# ---------------------------------------------------------------- text

@tib_app.command("segment")
def segment_cmd(
    syllables_only: bool = typer.Option(False, "--syllables-only", help="Print Tibetan syllables only (drop numbers, Han, other scripts)."),
) -> None:
    """Read text on stdin; print each line's tokens space-joined (syllables, numbers, Han, other words)."""
    from hearme.tibetan import text as T

    data = sys.stdin.read()
    if not data.strip():
        raise io.HearMeError("segment: no input on stdin (pipe Tibetan text into it)")
    if not T.script_census(data).get("tibetan"):
        raise io.HearMeError(f"segment: stdin has no Tibetan text (looks {T.detect_lang(data)!r}); "
                             f"it splits Tibetan syllables on the tsheg")
    for line in data.splitlines():
        _echo(" ".join(T.syllables(line)) if syllables_only else T.segment(line))


@tib_app.command("lm-train")
def lm_train_cmd(
    corpus: Path = typer.Argument(..., help="Monolingual Tibetan text, one sentence or utterance per line."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the model (.npz)."),
    words: bool = typer.Option(True, "--words/--no-words", help="Also train on the shipped word list (tibetan/bo_words.txt), as `filter --corpus` does."),
) -> None:
    """Train the syllable-trigram modified-Kneser-Ney LM (KenLM's estimator)."""
    from hearme.tibetan import filter_lm as FL, ngram

    lines = ngram.read_corpus(corpus)
    train = FL.with_words(lines, words)
    lm = ngram.KNTrigram.fit(train, progress=True)
    lm.save(out)
    m = lm.meta
    _echo(f"LM: {m['sentences']} sentences ({len(train) - len(lines)} of them words of bo_words.txt), {m['tokens']} tokens, "
          f"vocabulary {m['vocab']}, {m['bigrams']} bigrams, {m['trigrams']} trigrams -> {out}")
    for note in m["notes"]:
        _echo(f"  note: {note}")


@tib_app.command("lm-score")
def lm_score_cmd(
    lm_path: Path = typer.Option(..., "--lm", help="Model written by `hearme tibetan lm-train`."),
    file: Optional[Path] = typer.Argument(None, help="Text file, one sentence per line [default: stdin]."),
) -> None:
    """Print `mean log10 p/token<TAB>tokens<TAB>OOV<TAB>line` for each line."""
    from hearme.tibetan import ngram

    lm = ngram.KNTrigram.load(lm_path)
    text = io.read_text(file)[0] if file else sys.stdin.read()
    lines = text.splitlines()
    total, count, oov = lm.score_detail(lines)
    for line, t, c, o in zip(lines, total, count, oov):
        _echo(f"{t / max(c, 1):.4f}\t{c}\t{o}\t{line}")


# ---------------------------------------------------------------- filter

@tib_app.command("filter")
def filter_cmd(
    inp: Path = typer.Argument(..., help="Tibetan records (.json/.jsonl) or lines (.txt) to filter."),
    out: Path = typer.Option(..., "--out", "-o", help="Kept records (or lines); rejects go to OUT.rejected.jsonl."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Your monolingual Tibetan corpus to train the LM on (default: the shipped default model)."),
    lm_path: Optional[Path] = typer.Option(None, "--lm", help="A model from `lm-train` instead of --corpus (give --heldout for the order check)."),
    heldout: Optional[Path] = typer.Option(None, "--heldout", help="Clean held-out Tibetan lines for the thresholds (default: every 10th corpus line)."),
    lm_min: Optional[float] = typer.Option(None, "--lm-min", help="Absolute LM threshold: mean log10 p/token below it fails."),
    lm_percentile: Optional[float] = typer.Option(None, "--lm-percentile", help="LM threshold = this percentile of clean held-out scores (default with --corpus/--lm: 1; none with the default model)."),
    lm_relative: Optional[float] = typer.Option(None, "--lm-relative", help="Paper-style relative score: keep when median(held-out)/score >= R (the paper: 0.85)."),
    no_lm: bool = typer.Option(False, "--no-lm", help="Only the script, Chinese, syllable, repetition and length checks."),
    no_order: bool = typer.Option(False, "--no-order", help="Skip the word-order check (utterance vs shuffles of its own syllables)."),
    order_percentile: float = typer.Option(1.0, "--order-percentile", help="Order cutoff = this percentile of the z of clean held-out lines."),
    order_shuffles: int = typer.Option(20, "--order-shuffles", min=2, help="Shuffles each utterance is compared with."),
    words: bool = typer.Option(True, "--words/--no-words", help="With --corpus: also train on the shipped word list (tibetan/bo_words.txt)."),
    max_foreign: float = typer.Option(0.05, help="Most non-Tibetan letters allowed in an utterance (share)."),
    allow_scripts: str = typer.Option("tibetan,latin,han", help="Scripts that may appear at all (up to --max-foreign)."),
    max_han: int = typer.Option(0, help="Most Han characters allowed in a Tibetan utterance (Chinese left untranslated)."),
    max_malformed: float = typer.Option(0.05, help="Most malformed (or merged) syllables allowed (share)."),
    max_run: int = typer.Option(3, help="Most identical syllables allowed in a row."),
    max_doubled: float = typer.Option(0.2, help="Most syllables allowed to repeat the one before (share; stutters)."),
    max_repeat: float = typer.Option(0.5, help="Most repeated syllable 3-grams allowed (share)."),
    max_unknown: float = typer.Option(0.3, help="Most tokens unknown to the LM allowed (share)."),
    min_syllables: int = typer.Option(1, help="Fewest syllables per utterance."),
    max_syllables: int = typer.Option(1000, help="Most syllables per utterance."),
    on_fail: str = typer.Option("dialogue", help="dialogue: reject the dialogue; truncate: keep its clean leading exchanges."),
    min_exchanges: int = typer.Option(1, help="With --on-fail truncate: fewest exchanges left to keep a dialogue."),
    workers: int = typer.Option(0, min=0, help="Processes measuring blocks of utterances (0: one per core, at most 4); the results are the same for any number."),
    save_lm: Optional[Path] = typer.Option(None, "--save-lm", help="Also save the LM (trained from --corpus, or the default model)."),
    register_as: Optional[str] = RegisterAs,
    dataset_dir: Optional[Path] = DatasetDir,
) -> None:
    """Script purity, Chinese, malformed syllables, stutters, length, and a syllable-trigram KN LM
    (unknown tokens, word order, optional absolute score), per utterance. Without LM flags the
    shipped default model is used."""
    from hearme.tibetan import filter as F, filter_lm as FL

    checks = F.Checks(max_foreign=max_foreign, allow_scripts=tuple(s.strip() for s in allow_scripts.split(",") if s.strip()),
                      max_han=max_han, max_malformed=max_malformed, max_run=max_run, max_doubled=max_doubled,
                      max_repeat=max_repeat, max_unknown=max_unknown, min_syllables=min_syllables,
                      max_syllables=max_syllables)
    lm, threshold, order, model = None, None, None, None
    if no_lm:
        if corpus or lm_path:
            raise io.HearMeError("--no-lm contradicts --corpus/--lm")
    elif corpus is None and lm_path is None:
        if heldout is not None:
            raise io.HearMeError("--heldout goes with --corpus or --lm (the default model calibrates on its own held-out lines)")
        dm, threshold, order = FL.default_checks(lm_min, lm_percentile, lm_relative, order=not no_order,
                                                percentile=order_percentile, shuffles=order_shuffles)
        lm, model = dm.lm, dm.describe()
        if save_lm:
            lm.save(save_lm)
    else:
        order_check = None if no_order else FL.OrderCheck(order_percentile, order_shuffles)
        lm, threshold, order = FL.lm_checks(corpus, lm_path, heldout, lm_min, lm_percentile, lm_relative, save_lm,
                                           words=words, order=order_check)
        model = f"LM from {'--corpus ' + str(corpus) if corpus else '--lm ' + str(lm_path)}"
    for line in filter(None, (model, threshold and f"LM threshold: {threshold.describe()}",
                              order and f"order check: {order.describe()}")):
        _echo(line)
    report = F.run(inp, out, lm, threshold, checks, on_fail=on_fail, min_exchanges=min_exchanges, workers=workers,
                   order=order, model=model)
    for key, n in sorted(report["rejected_by_check"].items()):
        _echo(f"  failing utterances by check: {key} {n}")
    _summary(report, out, Stopwatch().line("filter", lines=report["utterances"], units=report["syllables"],
                                           seconds=report["seconds"]))
    if register_as and report["kind"] == "records":
        _register(out, register_as, dataset_dir)


# ---------------------------------------------------------------- IFD

@tib_app.command("ifd")
def ifd_cmd(
    inp: Path = typer.Argument(..., help="Records (.json/.jsonl) to score."),
    out: Path = typer.Option(..., "--out", "-o", help="Selected records; scores go to OUT.ifd.jsonl, the rest to OUT.rejected.jsonl."),
    model: Path = typer.Option(..., "--model", help="Hugging Face causal LM directory (the paper's small pre-experience model)."),
    adapter: Optional[Path] = typer.Option(None, "--adapter", help="A LoRA adapter directory to apply on --model."),
    top_fraction: Optional[float] = typer.Option(None, "--top-fraction", help="Keep this fraction with the highest IFD."),
    top_n: Optional[int] = typer.Option(None, "--top-n", min=0, help="Keep this many with the highest IFD."),
    max_ifd: float = typer.Option(1.0, "--max-ifd", help="Drop dialogues above this IFD first (Cherry: 1)."),
    template: bool = typer.Option(True, "--template/--no-template", help="Render history with the chat template, or keep the template out (plain text; templates inflate IFD)."),
    aggregate: str = typer.Option("mean", "--aggregate", help="Dialogue IFD: mean of turn IFDs, or tokens (token-weighted CAS/DAS)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    dtype: str = typer.Option("auto", help="auto (float32 on CPU, bfloat16 on GPU), float32, bfloat16 or float16."),
    max_length: Optional[int] = typer.Option(None, help="Token limit per pass [default: the model's]."),
    max_batch_tokens: int = typer.Option(8192, help="Padded tokens per batch (length-bucketed)."),
    register_as: Optional[str] = RegisterAs,
    dataset_dir: Optional[Path] = DatasetDir,
) -> None:
    """Multi-turn IFD = CAS/DAS per assistant turn; select by top fraction or count after dropping IFD > 1."""
    from hearme.tibetan import ifd

    sw = Stopwatch()
    report = ifd.run(inp, out, model, adapter=str(adapter) if adapter else None, top_fraction=top_fraction,
                     top_n=top_n, max_ifd=max_ifd, template=template, aggregate=aggregate, device=device,
                     dtype=dtype, max_length=max_length, max_batch_tokens=max_batch_tokens)
    s = report["ifd"]
    if s["mean"] is not None:
        _echo(f"IFD mean {s['mean']:.4f} (min {s['min']:.4f}, max {s['max']:.4f}); {s['above_max']} above {max_ifd:g}")
    for note in report["notes"]:
        _echo(f"  note: {note}")
    _summary(report, out, sw.line("ifd, dialogues scored", inp))
    if register_as:
        _register(out, register_as, dataset_dir)


# ---------------------------------------------------------------- LLM steps

@tib_app.command("translate")
@llm_options(required=False)
def translate_cmd(
    inp: Path = typer.Argument(..., help="Chinese records (.json/.jsonl)."),
    out: Path = typer.Option(..., "--out", "-o", help="Tibetan records; failures go to OUT.rejected.jsonl."),
    backend: str = typer.Option("auto", "--backend", help="llm (OpenAI-compatible chat), local (seq2seq model) or auto."),
    mt_model: Optional[Path] = typer.Option(None, "--mt-model", help="Local NLLB-200 or MADLAD-400 directory (backend local)."),
    mt_style: str = typer.Option("auto", "--mt-style", help="auto, nllb (forced bod_Tibt) or madlad (<2bo> prefix)."),
    num_beams: int = typer.Option(4, "--num-beams", min=1, help="Beam size for the local model."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Sentences per batch for the local model."),
    max_input_tokens: int = typer.Option(256, "--max-input-tokens", min=8, help="Longer sentences are split at clauses (NLLB degrades on long input)."),
    device: str = typer.Option("auto", "--device", help="Local model device: auto, cpu or cuda."),
    glossary: Optional[Path] = typer.Option(None, "--glossary", help="TSV zh<TAB>bo[<TAB>note]: terms put into the prompt and checked in the output."),
    keep_system: bool = typer.Option(False, "--keep-system", help="Leave system prompts untranslated."),
    reasks: int = typer.Option(2, "--reasks", min=0, help="Times an utterance whose translation breaks a rule is asked again (LLM backend)."),
    on_fail: str = typer.Option("dialogue", "--on-fail", help="dialogue: reject a dialogue with an untranslatable utterance; truncate: keep its exchanges before it."),
    llm: LLMConfig = None,
) -> None:
    """Chinese -> Tibetan, utterance by utterance, keeping the turn structure; every translation is
    checked (Tibetan, no Chinese/Latin left, no notes or labels, complete) and re-asked when it
    fails (resumes from the cache)."""
    from hearme.tibetan import translate as tr

    gloss = tr.Glossary.load(glossary) if glossary else None
    if backend == "auto":
        backend = "local" if mt_model else "llm"
    if backend == "local":
        if not mt_model:
            raise io.HearMeError("backend local needs --mt-model (an NLLB-200 or MADLAD-400 directory)")
        from hearme.tibetan.mt_local import LocalTranslator

        b = tr.LocalBackend(LocalTranslator(mt_model, style=mt_style, device=device, num_beams=num_beams,
                                            batch_size=batch_size, max_input_tokens=max_input_tokens,
                                            cache_dir=llm.cache_dir, cache=not llm.no_cache))
    elif backend == "llm":
        if not llm.configured:
            raise io.HearMeError("backend llm needs --base-url and --model (or use --backend local --mt-model DIR)")
        b = tr.LLMBackend(llm.client(), gloss, reasks=reasks)
    else:
        raise io.HearMeError(f"--backend must be llm, local or auto, got {backend!r}")
    sw = Stopwatch()
    report = tr.run(inp, out, b, glossary=gloss, translate_system=not keep_system, on_fail=on_fail)
    g = report["glossary"]
    if g:
        rate = "n/a" if g["rate"] is None else f"{g['rate']:.0%}"
        _echo(f"glossary: {g['followed']}/{g['occurrences']} term occurrences translated as listed ({rate})"
              + (f"; missed: {', '.join(g['missed'][:8])}" if g["missed"] else ""))
    if backend == "llm":
        _echo(b.client.stats.line())
        if b.reasked:
            _echo("re-asked: " + ", ".join(f"{k} {v}" for k, v in sorted(b.reasked.items())))
    _summary(report, out, sw.line("translate, written", out))


@tib_app.command("multiturn")
@llm_options()
def multiturn_cmd(
    inp: Path = typer.Argument(..., help="Single-turn records (e.g. `hearme convert psyqa` output)."),
    out: Path = typer.Option(..., "--out", "-o", help="Multi-turn records; failures go to OUT.rejected.jsonl."),
    ask_exchanges: int = typer.Option(10, help="Exchanges asked for in the prompt (SMILE: 10 or more)."),
    min_exchanges: int = typer.Option(5, help="Dialogues with fewer exchanges are rejected."),
    source_chars: int = typer.Option(1800, help="Truncate the Q&A source near this many characters (SMILE)."),
    max_utterance_chars: int = typer.Option(600, help="A longer utterance makes the dialogue malformed."),
    temperature: float = typer.Option(0.7, help="Sampling temperature."),
    reasks: int = typer.Option(2, "--reasks", min=0, help="Times a dialogue that breaks a rule is asked again, the rule named."),
    llm: LLMConfig = None,
) -> None:
    """Rewrite single-turn Q&A into help-seeker/supporter dialogues with an LLM (SMILE method);
    each reply is checked (seeker first, enough exchanges, no forum words or inner labels) and
    re-asked when it breaks a rule."""
    from hearme.tibetan import multiturn as mt

    rules = mt.Rules(source_chars=source_chars, ask_exchanges=ask_exchanges, min_exchanges=min_exchanges,
                     max_utterance_chars=max_utterance_chars, temperature=temperature, reasks=reasks)
    client = llm.client()
    sw = Stopwatch()
    report = mt.run(inp, out, client, rules)
    _echo(client.stats.line())
    if report["mean_exchanges"] is not None:
        _echo(f"mean exchanges per dialogue: {report['mean_exchanges']}")
    _summary(report, out, sw.line("multiturn, written", out))


@tib_app.command("expand")
@llm_options()
def expand_cmd(
    inp: Path = typer.Argument(..., help="Single-turn seed records with a `topic` (one of the nine PsyQA topics or an alias)."),
    out: Path = typer.Option(..., "--out", "-o", help="New single-turn records (feed them to `multiturn`)."),
    per_topic: int = typer.Option(20, min=1, help="New items wanted per topic."),
    batch: int = typer.Option(5, min=1, help="Items asked for per request."),
    examples: int = typer.Option(3, min=1, help="Seed examples shown per request."),
    rounds: int = typer.Option(4, min=1, help="Most rounds of requests."),
    similarity: float = typer.Option(0.5, help="Question 3-gram Jaccard at or above which a new item is a duplicate."),
    topics_opt: Optional[str] = typer.Option(None, "--topics", help="Comma-separated topics [default: all nine]."),
    with_seeds: bool = typer.Option(False, "--with-seeds", help="Also write the seed records to OUT."),
    seed: int = typer.Option(0, help="Random seed for choosing examples."),
    llm: LLMConfig = None,
) -> None:
    """Self-instruct expansion per topic, deduplicated against the pool."""
    from hearme.tibetan import expand, topics

    cfg = expand.Config(per_topic=per_topic, batch=batch, examples=examples, max_rounds=rounds, similarity=similarity,
                        seed=seed, topics=[t.strip() for t in topics_opt.split(",")] if topics_opt else list(topics.TOPICS))
    client = llm.client()
    report = expand.run(inp, out, client, cfg, with_seeds=with_seeds)
    _echo(client.stats.line())
    _echo("new per topic: " + ", ".join(f"{t} {n}" for t, n in report["new"].items()))
    if report["topics_without_seeds"]:
        _echo(f"  no seeds for: {', '.join(report['topics_without_seeds'])}")
    _summary(report, out)


# ---------------------------------------------------------------- describe

@tib_app.command("stats")
def stats_cmd(
    inp: Path = typer.Argument(..., help="Records (.json/.jsonl)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory for stats.md, stats.json and PNG plots."),
) -> None:
    """Table 3 (topic shares), Table 4 (dialogues, mean turns, mean syllables) and Figure 2 (turn counts)."""
    from hearme.tibetan import stats

    s = stats.run(inp, out)
    t4 = s["table4"]
    _echo(f"dialogues={t4['dialogues']} mean_turns={t4['mean_turns']} mean_len={t4['mean_len']} "
          f"help-seeker={t4['mean_len_seeker']} supporter={t4['mean_len_supporter']} ({s['units']})")
    _echo(f"wrote {out / 'stats.md'}")


@tib_app.command("tiny-mt")
def tiny_mt_cmd(
    out: Path = typer.Argument(..., help="Directory for the tokenizer and model."),
    style: str = typer.Option("madlad", help="madlad (T5, <2bo> prefix) or nllb (M2M100, forced bod_Tibt)."),
) -> None:
    """Build an offline random-weight seq2seq model for tests and the demo."""
    from hearme.core import paths
    from hearme.tibetan import mt_local

    paths.set_offline()
    mt_local.build_tiny(out, style)
    _echo(f"tiny {style} model -> {out}")


@tib_app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("runs/demo/tibetan"), "--out", help="Output directory."),
    tiny_model: Optional[Path] = typer.Option(None, "--tiny-model", help="Causal LM for IFD [default: build the offline tiny model]."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="Translate through this OpenAI-compatible endpoint instead of the tiny seq2seq model."),
    llm_model: str = typer.Option("fake-mt", "--llm-model", help="Model name at --base-url."),
    dataset_dir: Optional[Path] = typer.Option(None, "--dataset-dir", help="Where to register the result [default: OUT]."),
) -> None:
    """The Tibetan leg of `hearme demo` on the bundled samples: segment, filter, IFD, translate, stats."""
    from hearme.demo import tibetan as demo

    res = demo.demo_leg(out, tiny_model, base_url=base_url, dataset_dir=dataset_dir, llm_model=llm_model)
    for line in res["summary"]:
        _echo(line)


def register(app: typer.Typer) -> None:
    app.add_typer(tib_app, name="tibetan")


__all__: List[str] = ["register", "tib_app"]
