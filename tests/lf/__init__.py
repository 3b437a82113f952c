"""Tests of hearme.lf: the LLaMA-Factory integration, run for real on tiny models."""
