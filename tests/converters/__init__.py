"""Tests of hearme.converters: every source format, scrubbing, dedup, splits, hostile inputs."""
