"""Tests of hearme.demo: the offline demo pipeline end to end."""
