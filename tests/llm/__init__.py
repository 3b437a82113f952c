"""Tests of hearme.llm: the one LLM client, against scripted servers over real HTTP."""
