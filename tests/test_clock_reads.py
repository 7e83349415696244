"""ivr reads the date and time of day only through the injected clock (``ivr.clock``).

That is what lets a test pin time (FixedClock, ``IVR_NOW``) and what makes ``--today``
(``clock_pin.py``) a faithful stand-in for another day: a ``datetime.now()`` elsewhere
would follow the real calendar in tests that look pinned. Tests themselves derive
their dates from a pinned instant, never from today.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Calls that read the wall clock (module or class name, attribute).
WALL_CLOCK_CALLS = {
    ("datetime", "now"), ("datetime", "today"), ("datetime", "utcnow"),
    ("date", "today"), ("time", "time"), ("time", "time_ns"), ("time", "localtime"),
    ("time", "gmtime"), ("time", "ctime"), ("time", "asctime"), ("time", "strftime"),
}
#: The database's own clock would not follow FixedClock or IVR_NOW either.
DATABASE_CLOCK = re.compile(r"\bCURRENT_(TIMESTAMP|DATE|TIME)\b|\bfunc\.now\(", re.I)

#: Where ivr may read the wall clock, and why it is not the hotline's date or hour.
ALLOWED = {
    "ivr/clock.py": "the one place the system clock is read",
    "ivr/web/sessions.py": "cookie expiry in epoch seconds: a span, not a date",
    "ivr/web/sockets.py": "closes a console when its cookie expires (epoch seconds)",
    "ivr/web/views.py": "drops expired revoked cookies (epoch seconds)",
    "ivr/testing/fake_asterisk.py": "agi_uniqueid like Asterisk's, <epoch>.<n>",
}


def wall_clock_reads(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line: name()`` for each wall-clock call in ``path``."""
    rel = path.relative_to(root).as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), rel)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
        if (name, node.func.attr) in WALL_CLOCK_CALLS:
            found.append(f"{rel}:{node.lineno}: {name}.{node.func.attr}()")
    return found


def database_clock_reads(path: Path, root: Path = ROOT) -> list[str]:
    rel = path.relative_to(root).as_posix()
    return [f"{rel}:{n}: {m.group(0)}"
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if not line.lstrip().startswith("#") and (m := DATABASE_CLOCK.search(line))]


def test_ivr_reads_the_date_only_through_its_clock() -> None:
    sources = [p for p in sorted((ROOT / "ivr").rglob("*.py"))
               if p.relative_to(ROOT).as_posix() not in ALLOWED]
    reads = [r for p in sources for r in wall_clock_reads(p) + database_clock_reads(p)]
    stale = [rel for rel in ALLOWED if not wall_clock_reads(ROOT / rel)]
    assert stale == [], "allowed to read the wall clock but no longer does"
    assert reads == [], ("reads the wall clock: take the injected Clock (ivr.clock) so "
                         "FixedClock and IVR_NOW pin it:\n" + "\n".join(reads))


def test_tests_derive_dates_from_a_pinned_instant() -> None:
    date_reads = {("datetime", "now"), ("datetime", "today"), ("datetime", "utcnow"),
                  ("date", "today")}
    reads = [r for p in sorted((ROOT / "tests").glob("*.py")) for r in wall_clock_reads(p)
             if any(r.endswith(f": {a}.{b}()") for a, b in date_reads)]
    assert reads == [], "today's date in a test:\n" + "\n".join(reads)


def test_the_check_sees_what_it_looks_for(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import datetime as dt, time\nfrom datetime import date\n"
                     "a = dt.datetime.now()\nb = date.today()\nc = time.time()\n"
                     "d = 'SELECT CURRENT_TIMESTAMP'\ne = clock.now()\n", encoding="utf-8")
    assert wall_clock_reads(probe, tmp_path) == [
        "probe.py:3: datetime.now()", "probe.py:4: date.today()", "probe.py:5: time.time()"]
    assert database_clock_reads(probe, tmp_path) == ["probe.py:6: CURRENT_TIMESTAMP"]
