"""Core data: the one record type (schema), the one IO layer (io), paths, progress bars and the
dataset registry (`dataset_info.json`). Imports nothing else from HearMe."""
