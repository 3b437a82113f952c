"""Long work: progress bars (tqdm), shared by converters, the Tibetan pipeline and the demo, and
`gc_paused` for building many records at once."""

from __future__ import annotations

import contextlib
import gc


def bar(total: int, desc: str, unit: str = "item", enabled: bool = True):
    """A transient tqdm bar, or None when disabled or there is nothing to count."""
    if not enabled or not total:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)


@contextlib.contextmanager
def gc_paused():
    """No cyclic garbage collection while many records are built: records hold no cycles, and each
    collection would walk every record made so far (it doubled the time of a 55,000-file run)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
