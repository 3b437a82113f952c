"""HearMe tibetan."""
