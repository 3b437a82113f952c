"""Tests of hearme.webui_ext: the WebUI, in a real headless Chromium and without one."""
