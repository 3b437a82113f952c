"""Source formats -> the one record schema. Importing this package registers every converter."""

from hearme.converters.base import CONVERTERS, Converter, Reject, register_converter, run, run_to_file  # noqa: F401
from hearme.converters import records  # noqa: F401

__all__ = ["CONVERTERS", "Converter", "Reject", "register_converter", "run", "run_to_file"]
