"""Render DOT text with Graphviz's ``dot`` (the Debian package ``graphviz``).

``bash scripts/dev setup`` installs it like espeak-ng. Without it, a caller gets one
clear line (:class:`GraphvizMissing`) and can still take the DOT text itself
(``ivr graph --out flow.dot``).
"""

from __future__ import annotations

import shutil
import subprocess  # dot runs with a fixed argument list, never through a shell
from typing import Final

from ivr.errors import IvrError

#: Output formats offered (``dot -T...``).
FORMATS: Final = ("svg", "png", "pdf")
#: A flow of a few hundred nodes lays out in well under a second; this only stops a hang.
RENDER_TIMEOUT: Final = 30.0
MISSING: Final = ("Graphviz 'dot' is not installed: apt-get install graphviz "
                  "(bash scripts/dev setup installs it), or ask for DOT text instead")


class GraphvizError(IvrError, RuntimeError):
    """Rendering failed; the message is one line."""


class GraphvizMissing(GraphvizError):
    """No ``dot`` on PATH."""


def find_dot() -> str | None:
    return shutil.which("dot")


def render(source: str, fmt: str = "svg", *, dot: str | None = None,
           timeout: float = RENDER_TIMEOUT) -> bytes:
    """``source`` laid out and drawn as ``fmt``; raises :class:`GraphvizError`."""
    if fmt not in FORMATS:
        raise GraphvizError(f"unknown graph format {fmt!r} (one of {', '.join(FORMATS)})")
    program = dot or find_dot()
    if program is None:
        raise GraphvizMissing(MISSING)
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, DOT on stdin
            [program, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True,
            timeout=timeout, check=False)
    except FileNotFoundError:
        raise GraphvizMissing(MISSING) from None
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"dot took longer than {timeout:g} s") from None
    if done.returncode != 0:
        first = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["failed"])[0]
        raise GraphvizError(f"dot: {first}")
    return done.stdout
