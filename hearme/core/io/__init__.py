"""The one IO layer: atomic writes, tolerant readers with clear errors, and accounting.

- errors: HearMeError, InputError, OutputError (one line for the user);
- atomic: atomic writes, the commit journal, writers for records, JSON and JSON Lines;
- read: readers with format detection and positions, record loading;
- many: several record files at once (the parts of a split);
- encoded: records encoded once, where they are checked, and reused by the writer;
- tally: read = written + rejected, and the rejected side file.

Callers use `from hearme.core import io` and `io.write_json(...)`: every public name is here.
"""

from hearme.core.io.errors import HearMeError, InputError, OutputError, safe_text, os_reason  # noqa: F401
from hearme.core.io.atomic import atomic_open, finish_commit, remove_stale_temps, Writer, write_together, json_writer, jsonl_writer, records_writer, write_text, write_json, write_jsonl, save_figure, write_records, file_key, refuse_overwrite  # noqa: F401
from hearme.core.io.many import PARALLEL_WRITE_FROM, write_records_many  # noqa: F401
from hearme.core.io.encoded import EncodedRows, encode_row  # noqa: F401
from hearme.core.io.read import ENCODINGS, read_text, read_json, iter_jsonl, unencodable, read_json_or_lines, read_items, load_records  # noqa: F401
from hearme.core.io.tally import RAW_KEEP, REASON_KEEP, Tally, rejected_path, write_output  # noqa: F401
