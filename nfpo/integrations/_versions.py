"""Clear errors for missing or unsupported framework versions."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version


def _parse(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v.split("+")[0])[:3])


def require(dist: str, minimum: str, adapter: str, installed: str | None = None) -> str:
    """Raise ImportError unless the distribution ``dist`` >= ``minimum`` is installed; return
    its version. ``installed`` overrides the lookup (tests)."""
    hint = (f"pip install 'torch==<your torch>' '{dist}>={minimum}' (pin torch in the same "
            f"command so pip does not replace it)")
    if installed is None:
        try:
            installed = version(dist)
        except PackageNotFoundError:
            raise ImportError(f"{adapter} needs {dist} >= {minimum}, which is not installed: "
                              f"{hint}") from None
    if _parse(installed) < _parse(minimum):
        raise ImportError(f"{adapter} supports {dist} >= {minimum}; installed: {installed}. "
                          f"Upgrade: {hint}")
    return installed
