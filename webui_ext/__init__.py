"""HearMe webui_ext."""
