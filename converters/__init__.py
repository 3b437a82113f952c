"""Source formats -> the one record schema. Importing this package registers every converter."""

from hearme.converters.base import CONVERTERS, Converter, Reject, register_converter  # noqa: F401
from hearme.converters.convert import run, run_to_file, run_with_corpus  # noqa: F401
from hearme.converters import (  # noqa: F401
    cpsycound, cpsycoune, emollm, firefly, psyqa, records, self_cognition, smile,
)

__all__ = ["CONVERTERS", "Converter", "Reject", "register_converter", "run", "run_to_file", "run_with_corpus"]
