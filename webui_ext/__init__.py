"""`hearme webui`: LLaMA-Factory's WebUI rebuilt with HearMe's Data, Evaluate and Tibetan tabs (see app.py)."""
