"""HearMe evaluators."""
