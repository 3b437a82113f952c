"""`hearme session run | score | profiles-from-cpsycoun`: simulated-client evaluation (the shell layer)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from hearme.evaluators.cli import (JUDGE_ENV, MUT_KEY_ENV, MUT_NAME, ModelId, Reasks, RubricLang, Seed, Weights,
                                   _judge_settings, _mut_client)
from hearme.llm import LLMConfig, llm_options

SIM_ENV = "HEARME_SIMULATOR"


def register(app: typer.Typer) -> None:
    """`hearme session run | score | profiles-from-cpsycoun`: simulated-client evaluation."""
    session = typer.Typer(help="Simulated-client sessions: an LLM plays a client profile, the model under test "
                               "counsels for N turns; score turns and sessions.", no_args_is_help=True)
    app.add_typer(session, name="session")

    @session.command("run")
    @llm_options(env_prefix=SIM_ENV, required=False)
    def run_cmd(
        counselor_url: str = typer.Option(..., "--counselor-base-url", help="OpenAI-compatible URL of the model under "
                                          "test (e.g. llamafactory-cli api)."),
        out: Path = typer.Option(..., "-o", "--out", help="Output directory (re-run the same command to resume)."),
        profiles: List[Path] = typer.Option([], "--profiles", help="Profile files or folders (default: the bundled "
                                            "32 Chinese and 10 Tibetan profiles); repeatable."),
        lang: List[str] = typer.Option([], "--lang", help="Only profiles in this language (zh, bo, en); repeatable."),
        profile_id: List[str] = typer.Option([], "--profile", help="Only this profile id; repeatable."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N selected profiles."),
        turns: int = typer.Option(6, "--turns", min=1, help="Most turns per session."),
        min_turns: int = typer.Option(2, "--min-turns", min=1, help="The client may end the session from this turn."),
        seeds: str = typer.Option("0", "--seeds", help="Comma-separated seeds: one session per profile and seed."),
        reasks: int = typer.Option(2, "--sim-reasks", min=0, help="Re-asks of a simulator reply that breaks character."),
        sim_temperature: float = typer.Option(0.7, "--sim-temperature", min=0.0, max=2.0, help="Simulator temperature."),
        counselor_model: str = typer.Option(MUT_NAME, "--counselor-model", help="Model name at --counselor-base-url."),
        counselor_key_env: str = typer.Option(MUT_KEY_ENV, "--counselor-key-env", help="Environment variable with "
                                              "that endpoint's key, if it needs one."),
        counselor_max_tokens: int = typer.Option(512, "--counselor-max-tokens", min=1, help="Most tokens per reply."),
        counselor_temperature: float = typer.Option(0.0, "--counselor-temperature", min=0.0, max=2.0,
                                                    help="Counselor sampling temperature (0 = greedy)."),
        system: Optional[str] = typer.Option(None, "--system", help="System prompt sent to the model under test."),
        model_id: str = ModelId, weights: Optional[Path] = Weights,
        llm: LLMConfig = None,
    ) -> None:
        """Play every profile x seed: the simulator (--base-url/--model, or HEARME_SIMULATOR_*; with neither, the
        scripted client that says each profile's lines) against the model under test."""
        import contextlib

        from hearme.core import io
        from hearme.evaluators import session_profiles, session_run
        from hearme.evaluators.session_script import MODEL, scripted_simulator

        try:
            seed_list = [int(x) for x in seeds.split(",") if x.strip()]
        except ValueError:
            raise io.HearMeError(f"--seeds must be whole numbers separated by commas, got {seeds!r}") from None
        profs = session_profiles.load_profiles(profiles, langs=lang, ids=profile_id, limit=limit)
        s = session_run.SessionSettings(turns=turns, min_turns=min_turns, seeds=seed_list, reasks=reasks,
                                        sim_temperature=sim_temperature, mut_max_tokens=counselor_max_tokens,
                                        mut_temperature=counselor_temperature, system=system)
        s.check()
        with contextlib.ExitStack() as stack:
            if not llm.configured:
                llm.base_url, llm.model = stack.enter_context(scripted_simulator()), MODEL
                typer.echo("simulator: the scripted client (no --base-url/--model)", err=True)
            sim = llm.client()
            mut = _mut_client(counselor_url, counselor_model, counselor_key_env, llm.concurrency, llm, out,
                              model_id, weights)
            meta = session_run.run(profs, out, mut, sim, s)
        typer.echo(session_run.format_run(meta))
        typer.echo("simulator: " + sim.stats.line())
        typer.echo("counselor: " + mut.stats.line())
        typer.echo(f"wrote {out / 'transcripts.jsonl'}, {out / 'sessions.jsonl'} and {out / 'run.json'}")
        if meta["n_complete"] == 0:
            typer.echo("error: no session could be completed", err=True)
            raise typer.Exit(1)

    @session.command("score")
    @llm_options(env_prefix=JUDGE_ENV, required=False)
    def score_cmd(
        run_dir: Path = typer.Argument(..., help="Output directory of `hearme session run`."),
        rubric_lang: str = RubricLang, reasks: int = Reasks, seed: int = Seed,
        repeat: int = typer.Option(1, "--repeat", min=1, max=10, help="Ask the judge K times per turn and report "
                                   "its self-consistency."),
        hotline: List[str] = typer.Option([], "--hotline", help="NUMBER=NAME of a local crisis line (repeatable; "
                                          "default: China's national lines)."),
        llm: LLMConfig = None,
    ) -> None:
        """Per-turn and per-session scores: the four dimensions (with --base-url/--model or HEARME_JUDGE_*), language
        consistency, repetition, question rate, crisis follow-up, means given; each with its CI, n and unscored."""
        from hearme.evaluators import probe_crisis, session_report, session_scores

        judge = llm.client() if llm.configured else None
        if judge is None:
            typer.echo("no judge configured: only the measured properties are scored", err=True)
        summary = session_scores.score(run_dir, judge, _judge_settings(rubric_lang, reasks, seed, 1024),
                                       hotlines=probe_crisis.parse_hotlines(hotline), repeat=repeat)
        typer.echo(session_report.table_md(summary))
        if judge:
            typer.echo("judge: " + judge.stats.line())
        typer.echo(f"wrote {run_dir / 'session_summary.json'}, {run_dir / 'session_scores.jsonl'} and "
                   f"{run_dir / 'turn_scores.jsonl'}")

    @session.command("profiles-from-cpsycoun")
    def profiles_cmd(
        inputs: List[Path] = typer.Argument(..., help="CPsyCounD .txt dialogues and/or CPsyCounE JSON files or folders."),
        out: Path = typer.Option(..., "-o", "--out", help="Profiles JSON to write."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N dialogues."),
    ) -> None:
        """Build client profiles from your own CPsyCounD case dialogues and CPsyCounE topics (no LLM)."""
        from hearme.evaluators import session_profiles

        res = session_profiles.profiles_from_cpsycoun(inputs, out, limit=limit)
        typer.echo(f"{res['profiles']} profiles from {res['dialogues']} dialogues ({res['with_crisis']} with a crisis "
                   f"disclosure; {res['too_short']} too short, {res['rejected']} rejected) -> {out}")
