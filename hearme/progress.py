"""Progress bars for long work (tqdm), shared by converters, the Tibetan pipeline and the demo."""

from __future__ import annotations


def bar(total: int, desc: str, unit: str = "item", enabled: bool = True):
    """A transient tqdm bar, or None when disabled or there is nothing to count."""
    if not enabled or not total:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)
