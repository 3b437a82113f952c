"""Evaluator commands: metrics, judge, judge-dialogues, compare, report, probe identity|crisis|preference,
session, prefs build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from hearme.core import io
from hearme.llm import LLMConfig, llm_options

JUDGE_ENV = "HEARME_JUDGE"
MUT_NAME = "hearme"  # what `hearme recipes serve api` reports; llamafactory-cli api ignores the name
MUT_KEY_ENV = "HEARME_API_KEY"  # the key `hearme recipes serve api` expects clients to send


def _echo(msg: str = "") -> None:
    typer.echo(msg)


def _judge_settings(rubric_lang: str, reasks: int, seed: int, max_tokens: int, protocol: str = "hearme"):
    from hearme.evaluators.judge import JudgeSettings

    s = JudgeSettings(lang=rubric_lang, reasks=reasks, seed=seed, max_tokens=max_tokens, protocol=protocol)
    s.check()
    return s


RubricLang = typer.Option("zh", "--rubric-lang", help="Language of the judge rubric: zh or en.")
Reasks = typer.Option(2, "--reasks", min=0, help="Re-asks after an unparsable or out-of-range judge reply; then unscored.")
Seed = typer.Option(42, "--seed", help="Sampling seed sent to the judge (temperature is 0).")
MaxTokens = typer.Option(1024, "--max-tokens", min=16, help="Most tokens the judge may write per answer.")
Protocol = typer.Option("hearme", "--protocol", help="Judge prompt: hearme (JSON answer), hearmeglm or cpsycoun "
                                                     "(the seeds' step-by-step reasoning ending in the verdict list).")


def _mut_client(url: str, model: str, key_env: str, concurrency: int, llm: LLMConfig, out: Path, model_id: str,
                weights: Optional[Path]):
    """The model under test: its cache is bound to the output directory and the served weights'
    fingerprint (or to --model-id), never to URL + model name alone (see evaluators/mut.py)."""
    from hearme.evaluators.mut import ModelUnderTest

    return ModelUnderTest(url, model, out_dir=out, model_id=model_id, weights={"path": weights} if weights else None,
                          api_key_env=key_env, concurrency=concurrency, cache_dir=llm.cache_dir,
                          cache=not llm.no_cache, timeout=llm.timeout, max_retries=llm.max_retries)


def _exit_if_nothing(n_done: int, hist: dict, what: str) -> None:
    """Exit 1 with the reason histogram when no item was scored/answered (a result of nothing)."""
    if n_done == 0:
        from hearme.evaluators.reasons import line

        typer.echo(f"error: nothing was {what}" + (f" ({line(hist)})" if hist else ""), err=True)
        raise typer.Exit(1)


ModelId = typer.Option("", "--model-id", help="Name for the served weights to share cached replies across runs; "
                                             "default: this output directory plus the server's fingerprint.")
Weights = typer.Option(None, "--weights", help="Adapter or merged model served at the URL (recorded with the results).")


def register(app: typer.Typer) -> None:
    @app.command("metrics")
    def metrics_cmd(
        pred: Path = typer.Argument(..., help="LLaMA-Factory generated_predictions.jsonl (prompt/predict/label)."),
        lang: str = typer.Option("auto", "--lang", help="zh, bo or auto (Tibetan metrics for Tibetan labels)."),
        json_out: Optional[Path] = typer.Option(None, "--json", help="Where to write the JSON (default: hearme_metrics.json beside PRED)."),
    ) -> None:
        """BLEU-4/ROUGE exactly as LLaMA-Factory computes them, Tibetan syllable metrics, emoji rate."""
        from hearme.evaluators import metrics

        tally = io.Tally()
        result = metrics.compute(pred, lang, tally)
        out = json_out or pred.parent / "hearme_metrics.json"
        io.write_json(out, result)
        if tally.rejects:
            tally.write_rejects(out)
        _echo(json.dumps(result, ensure_ascii=False, indent=2))
        typer.echo(f"wrote {out}" + (f" ({tally.rejected} unreadable lines -> {io.rejected_path(out)})"
                                     if tally.rejects else ""), err=True)

    @app.command("judge")
    @llm_options(env_prefix=JUDGE_ENV)
    def judge_cmd(
        pred: Path = typer.Argument(..., help="LLaMA-Factory generated_predictions.jsonl to judge."),
        out: Path = typer.Option(..., "-o", "--out", help="Output directory for items.jsonl and summary.json."),
        rubric_lang: str = RubricLang, reasks: int = Reasks, seed: int = Seed, max_tokens: int = MaxTokens,
        protocol: str = Protocol,
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Judge only the first N predictions."),
        repeat: int = typer.Option(1, "--repeat", min=1, max=20, help="Ask the judge K times per item (seed, seed+1, ...) "
                                   "and report its self-consistency (Krippendorff's alpha with CIs)."),
        judges: str = typer.Option("", "--judges", help="Comma-separated judge models at the same --base-url; reports "
                                   "their agreement (alpha, weighted kappa); --model is always one and gives the scores."),
        temperature: float = typer.Option(0.0, "--temperature", min=0.0, max=2.0,
                                          help="Judge sampling temperature (repeats at 0 measure only the endpoint's determinism)."),
        llm: LLMConfig = None,
    ) -> None:
        """Four-dimension LLM judge (comprehensiveness 0-2, professionalism 0-3, authenticity 0-3, safety 0-1)."""
        from dataclasses import replace

        from hearme.evaluators import judge, reliability

        names = list(dict.fromkeys([llm.model, *(j.strip() for j in judges.split(",") if j.strip())]))
        client = llm.client()
        others = [replace(llm, model=m).client() for m in names[1:]]
        settings = _judge_settings(rubric_lang, reasks, seed, max_tokens, protocol)
        settings.temperature = temperature
        summary = judge.run(pred, out, client, settings, limit, repeat=repeat, others=others)
        _echo(judge.format_summary(summary))
        for text in reliability.lines(summary.get("reliability") or {}):
            _echo(text)
        _echo(client.stats.line())
        for other in others:
            _echo(f"{other.model}: " + other.stats.line())
        _echo(f"wrote {out / 'items.jsonl'} and {out / 'summary.json'}")
        _exit_if_nothing(summary["n_scored"], summary["unscored_reasons"], "scored")

    @app.command("judge-dialogues")
    @llm_options(env_prefix=JUDGE_ENV)
    def judge_dialogues_cmd(
        eval_path: Path = typer.Argument(..., help="CPsyCounE folder or file (求助者/支持者 lists), or records with messages + topic."),
        mut_url: str = typer.Option(..., "--model-under-test-url", help="OpenAI-compatible URL of the model under test (e.g. llamafactory-cli api)."),
        out: Path = typer.Option(..., "-o", "--out", help="Output directory for turns.jsonl and summary.json."),
        mut_model: str = typer.Option(MUT_NAME, "--model-under-test-name", help="Model name at that URL (llamafactory-cli api: API_MODEL_NAME)."),
        mut_key_env: str = typer.Option(MUT_KEY_ENV, "--model-under-test-key-env", help="Environment variable with that endpoint's key, if it needs one."),
        mut_id: str = typer.Option("", "--model-id", help="Name for the served weights to share cached replies across runs; default: this output directory plus the server's fingerprint."),
        weights: Optional[Path] = Weights,
        mut_max_tokens: int = typer.Option(512, "--model-under-test-max-tokens", min=1, help="Most tokens per counselor reply."),
        system: Optional[str] = typer.Option(None, "--system", help="System prompt sent to the model under test."),
        rubric_lang: str = RubricLang, reasks: int = Reasks, seed: int = Seed, max_tokens: int = MaxTokens,
        protocol: str = Protocol,
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N dialogues."),
        llm: LLMConfig = None,
    ) -> None:
        """CPsyCounE per-turn protocol: the model answers each counselor turn given the history; judge; turn -> dialogue -> topic."""
        from hearme.evaluators import dialogues

        judge_client = llm.client()
        mut = _mut_client(mut_url, mut_model, mut_key_env, llm.concurrency, llm, out, mut_id, weights)
        summary = dialogues.run(eval_path, out, mut, judge_client,
                                _judge_settings(rubric_lang, reasks, seed, max_tokens, protocol),
                                system=system, mut_max_tokens=mut_max_tokens, limit=limit)
        _echo(dialogues.format_summary(summary))
        _echo("model under test: " + mut.stats.line())
        _echo("judge: " + judge_client.stats.line())
        _echo(f"wrote {out / 'turns.jsonl'} and {out / 'summary.json'}")
        _exit_if_nothing(summary["n_scored"], summary["unscored_reasons"], "scored")

    @app.command("compare")
    def compare_cmd(
        runs: List[str] = typer.Argument(..., help="Run directories (or NAME=DIR); the first is the baseline."),
        out: Path = typer.Option(..., "-o", "--out", help="Output directory for comparison.md/json and PNG charts."),
    ) -> None:
        """Base vs fine-tuned per language: paired deltas over shared items (bootstrap CI, sign/Wilcoxon p) and charts."""
        from hearme.evaluators import compare

        result = compare.run(runs, out)
        for w in result["warnings"]:
            typer.echo(f"WARNING: {w}", err=True)
        _echo(result["markdown"])
        _echo(f"wrote {out / 'comparison.md'}, {out / 'comparison.json'} and {len(result['charts'])} charts")

    @app.command("report")
    def report_cmd(
        runs: List[str] = typer.Argument(..., help="Run directories (or NAME=DIR) holding training/predict/eval artifacts."),
        out: Path = typer.Option(..., "-o", "--out", help="Output directory for report.md and report.html."),
        title: str = typer.Option("HearMe training report / 训练报告", "--title", help="Report title."),
        samples: int = typer.Option(3, "--samples", min=0, help="Sample dialogues shown per predictions file and language."),
    ) -> None:
        """Bilingual (zh/en) training report for the course: sections, hyperparameters, losses, per-language results."""
        from hearme.evaluators import report

        paths = report.run(runs, out, title=title, n_samples=samples)
        _echo(f"wrote {paths['markdown']} and {paths['html']} (edit {paths['sections']} and re-run for your own "
              "application, data and split text)")

    probe = typer.Typer(help="Probes: identity (self-cognition), crisis safety, preference vs the reference.",
                        no_args_is_help=True)
    app.add_typer(probe, name="probe")

    @probe.command("identity")
    def identity_cmd(
        url: str = typer.Option(..., "--url", help="OpenAI-compatible URL of the model under test."),
        name: str = typer.Option(..., "--name", help="The name the model should give for itself."),
        author: str = typer.Option(..., "--author", help="The author/organisation the model should name."),
        out: Path = typer.Option(Path("runs/probe-identity"), "-o", "--out", help="Output directory."),
        alias: List[str] = typer.Option([], "--alias", help="Other spellings of the name or author (e.g. Tibetan); repeatable."),
        model: str = typer.Option(MUT_NAME, "--model-name", help="Model name at --url."),
        key_env: str = typer.Option(MUT_KEY_ENV, "--url-key-env", help="Environment variable with --url's key, if any."),
        prompts: Optional[Path] = typer.Option(None, "--prompts", help="Probe set (default: the bundled identity.json)."),
        max_tokens: int = typer.Option(256, "--max-tokens", min=1, help="Most tokens per reply."),
        concurrency: int = typer.Option(8, "--concurrency", min=1, help="Requests in flight at once."),
        cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Request cache directory."),
        model_id: str = ModelId, weights: Optional[Path] = Weights,
    ) -> None:
        """Self-cognition: direct and misleading identity questions (zh/en/bo) -> pass rate and failures."""
        from hearme.evaluators import probe_identity

        mut = _mut_client(url, model, key_env, concurrency, LLMConfig(cache_dir=cache_dir), out, model_id, weights)
        summary = probe_identity.run(mut, out, name=name, author=author, aliases=alias, prompts=prompts,
                                     max_tokens=max_tokens)
        _echo(probe_identity.format_summary(summary))
        _echo(f"wrote {out / 'items.jsonl'} and {out / 'summary.json'}")
        _exit_if_nothing(summary["n_answered"], summary["unanswered_reasons"], "answered")

    @probe.command("crisis")
    @llm_options(env_prefix=JUDGE_ENV)
    def crisis_cmd(
        url: str = typer.Option(..., "--url", help="OpenAI-compatible URL of the model under test."),
        out: Path = typer.Option(Path("runs/probe-crisis"), "-o", "--out", help="Output directory."),
        hotline: List[str] = typer.Option([], "--hotline", help="NUMBER=NAME of a crisis line the reply should give (repeatable; default: China's national lines)."),
        model_name: str = typer.Option(MUT_NAME, "--model-name", help="Model name at --url."),
        key_env: str = typer.Option(MUT_KEY_ENV, "--url-key-env", help="Environment variable with --url's key, if any."),
        prompts: Optional[Path] = typer.Option(None, "--prompts", help="Probe set (default: the bundled crisis.json)."),
        system: Optional[str] = typer.Option(None, "--system", help="System prompt sent to the model under test."),
        max_tokens: int = typer.Option(512, "--reply-max-tokens", min=1, help="Most tokens per model reply."),
        model_id: str = ModelId, weights: Optional[Path] = Weights,
        rubric_lang: str = RubricLang, reasks: int = Reasks, seed: int = Seed,
        llm: LLMConfig = None,
    ) -> None:
        """Crisis safety: acknowledges, no means/methods, urges immediate help, gives a crisis line -> pass rate."""
        from hearme.evaluators import probe_crisis

        judge_client = llm.client()
        mut = _mut_client(url, model_name, key_env, llm.concurrency, llm, out, model_id, weights)
        summary = probe_crisis.run(mut, judge_client, out, hotlines=probe_crisis.parse_hotlines(hotline),
                                   prompts=prompts, system=system, max_tokens=max_tokens, lang=rubric_lang,
                                   reasks=reasks, seed=seed)
        _echo(probe_crisis.format_summary(summary))
        _echo(f"wrote {out / 'items.jsonl'} and {out / 'summary.json'}")
        _exit_if_nothing(summary["n_answered"], summary["unanswered_reasons"], "answered")

    @probe.command("preference")
    @llm_options(env_prefix=JUDGE_ENV)
    def preference_cmd(
        pred: Path = typer.Argument(..., help="generated_predictions.jsonl: the model's `predict` vs the reference `label`."),
        out: Path = typer.Option(Path("runs/probe-preference"), "-o", "--out", help="Output directory."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N predictions."),
        rubric_lang: str = RubricLang, reasks: int = Reasks, seed: int = Seed,
        llm: LLMConfig = None,
    ) -> None:
        """Better/equal/worse than the reference reply, judged twice with positions swapped -> shares with CIs."""
        from hearme.evaluators import probe_preference

        client = llm.client()
        summary = probe_preference.run(pred, out, client, lang=rubric_lang, reasks=reasks, seed=seed, limit=limit)
        _echo(probe_preference.format_summary(summary))
        _echo(client.stats.line())
        _echo(f"wrote {out / 'items.jsonl'} and {out / 'summary.json'}")
        _exit_if_nothing(summary["n_scored"], summary["unscored_reasons"], "scored")

    prefs = typer.Typer(help="Stage 3: judged samples -> preference pairs (DPO/ORPO) and KTO items.",
                        no_args_is_help=True)
    app.add_typer(prefs, name="prefs")

    @prefs.command("build")
    @llm_options(env_prefix=JUDGE_ENV)
    def prefs_build_cmd(
        datasets: str = typer.Argument(..., help="Registered dataset names, comma-separated: every counselor turn "
                                                 "(with its history) is one prompt."),
        url: str = typer.Option(..., "--model-under-test-url", help="OpenAI-compatible URL of the model to sample "
                                                                    "(e.g. `llamafactory-cli api` on the stage-2 adapter)."),
        out: Path = typer.Option(..., "-o", "--out", help="Output directory: pairs.jsonl, kto.jsonl, prompts.jsonl, summary.json."),
        k: int = typer.Option(4, "--k", min=2, help="Replies sampled per prompt."),
        temperature: float = typer.Option(0.9, "--temperature", min=0.01, max=2.0, help="Sampling temperature of the model."),
        reply_max_tokens: int = typer.Option(256, "--reply-max-tokens", min=1, help="Most tokens per sampled reply."),
        sample_seed: int = typer.Option(0, "--sample-seed", help="Seed of sample 0 (sample i sends seed + i)."),
        system: Optional[str] = typer.Option(None, "--system", help="System prompt for records without their own."),
        min_margin: float = typer.Option(1.0, "--min-margin", min=0.0, help="Smallest chosen - rejected judge margin kept."),
        crisis_penalty: float = typer.Option(10.0, "--crisis-penalty", min=0.0,
                                             help="Points a reply failing the crisis criteria loses on a crisis prompt."),
        crisis_prompts: Optional[Path] = typer.Option(None, "--crisis-prompts", help="Also sample these crisis probe "
                                                      "prompts (JSON like evaluators/probes/crisis.json)."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N prompts."),
        dataset_dir: Optional[Path] = typer.Option(None, "--dataset-dir", help="Directory of dataset_info.json."),
        register_as: Optional[str] = typer.Option(None, "--register", help="Register the pairs as NAME and the KTO "
                                                  "items as NAME_kto in dataset_info.json."),
        model_name: str = typer.Option(MUT_NAME, "--model-under-test-name", help="Model name at --model-under-test-url."),
        key_env: str = typer.Option(MUT_KEY_ENV, "--model-under-test-key-env", help="Environment variable with that endpoint's key."),
        model_id: str = ModelId, weights: Optional[Path] = Weights,
        rubric_lang: str = RubricLang, reasks: int = Reasks, seed: int = Seed, max_tokens: int = MaxTokens,
        protocol: str = Protocol,
        llm: LLMConfig = None,
    ) -> None:
        """Sample K replies per prompt, judge them (crisis criteria on crisis prompts), write chosen/rejected pairs."""
        from hearme.evaluators import prefs as P

        judge_client = llm.client()
        mut = _mut_client(url, model_name, key_env, llm.concurrency, llm, out, model_id, weights)
        summary = P.build([d.strip() for d in datasets.split(",") if d.strip()], out, mut, judge_client,
                          dataset_dir=dataset_dir, limit=limit, crisis_prompts=crisis_prompts, register_as=register_as,
                          samples=P.SampleSettings(k=k, temperature=temperature, max_tokens=reply_max_tokens,
                                                   seed=sample_seed, system=system),
                          judge_settings=_judge_settings(rubric_lang, reasks, seed, max_tokens, protocol),
                          rule=P.PairRule(min_margin=min_margin, crisis_penalty=crisis_penalty))
        _echo(P.format_summary(summary))
        _echo(f"wrote {out / 'pairs.jsonl'}, {out / 'kto.jsonl'}, {out / 'prompts.jsonl'} and {out / 'summary.json'}")
        if summary["n_pairs"] == 0:
            typer.echo("error: no pair was made (" + ", ".join(f"{r} ({n})" for r, n in summary["no_pair"].items())
                       + ")", err=True)
            raise typer.Exit(1)

