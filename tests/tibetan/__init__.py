"""Tests of hearme.tibetan: the Tibetan paper's text, filter, LM, IFD and LLM steps."""
