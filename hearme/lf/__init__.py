"""LLaMA-Factory integration: run `llamafactory-cli` (runner), the template plugin and remote-code
compatibility (plugin, remote_compat), recipe overrides and checks (recipes, recipe_check, memory),
k-fold CV (cv), vLLM predict, the offline tiny models (tinymodel), the environment report (envinfo),
and the `hearme recipes | cv | train` commands (cli)."""
