"""Tests of hearme.evaluators: metrics, the judge, probes, compare and report."""
