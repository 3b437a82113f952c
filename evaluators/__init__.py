"""HearMe evaluators: metrics, LLM judge, probes, comparison and reports.

Python entry points (heavy imports stay inside the functions):
    hearme.evaluators.metrics.compute(pred_path, lang="auto") -> dict         # `hearme metrics`
    hearme.evaluators.metrics.compute_by_lang(pred_path) -> {"all"|lang: dict}
    hearme.evaluators.judge.run(pred_path, out_dir, LLMClient) -> summary       # `hearme judge`
    hearme.evaluators.dialogues.run(eval_path, out_dir, mut, judge) -> summary  # `hearme judge-dialogues`
    hearme.evaluators.probe_identity / probe_crisis / probe_preference .run(...)  # `hearme probe ...`
    hearme.evaluators.session_run.run(profiles, out_dir, mut, simulator) -> run.json       # `hearme session run`
    hearme.evaluators.session_scores.score(run_dir, judge_or_None) -> summary           # `hearme session score`
    hearme.evaluators.compare.run(run_dirs, out_dir) / report.run(run_dirs, out_dir)
    hearme.demo.judge.demo_judge(out_dir, pred_path, model_path=None)    # judge + probes, or how to enable
"""
