"""`hearme demo`, every step in one room: the sample datasets (samples), the pattern-made identity
questions (questions), the base model (base), stage 1 + 2 training and evaluation (pipeline,
evaluate), the Tibetan leg (tibetan), the judge and probes when an endpoint is set (judge), and
the report (report)."""
