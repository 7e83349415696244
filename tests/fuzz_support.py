"""Seeded input generation for the protocol fuzz tests (tests/test_*_fuzz.py).

Stdlib ``random`` with fixed seeds only: a failure names its seed and case, and the
same input comes back on every run and every machine. Inputs are random bytes and the
recorded Asterisk transcripts with a few mutations each; the mutations lean on tokens
the parsers give meaning to (``result=``, ``endpos=``, ``520-``, ``Response:``...),
because uniformly random bytes almost never get past the first line.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

#: Number-shaped tokens a parser must bound before ``int()``: Python refuses to convert
#: more than 4300 digits (ValueError), and a 20-digit field is already past int64.
HUGE_NUMBERS = (b"9" * 5000, b"-" + b"1" * 4301, b"1" * 21, b"18446744073709551616",
                b"1114112", b"-5", b"-1", b"0", b"\xd9\xa3", b"1_000", b"+7", b" 7")
#: Bytes that are not UTF-8, or decode to surprises (BOM, NUL, a lone surrogate's bytes).
ODD_BYTES = (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00", b"\r", b"\r\n",
             b"\n", b"\n\n", b"\t", b" ")


def random_bytes(rng: random.Random, alphabet: bytes | None = None) -> bytes:
    """Up to ~600 bytes, uniformly random or drawn from ``alphabet``."""
    n = rng.choice((0, 1, 2, 7, 40, 200, 600))
    if alphabet is None:
        return rng.randbytes(n)
    return bytes(rng.choice(alphabet) for _ in range(n))


def mutate(rng: random.Random, data: bytes, tokens: Sequence[bytes], *,
           max_mutations: int = 4) -> bytes:
    """``data`` with 1..``max_mutations`` random edits (flip, insert, delete, splice)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, max_mutations)):
        at = rng.randint(0, len(out))
        kind = rng.randrange(7)
        if kind == 0 and out:  # flip one byte
            at = min(at, len(out) - 1)
            out[at] = rng.randrange(256)
        elif kind == 1:  # a token the parser cares about
            out[at:at] = rng.choice(tokens)
        elif kind == 2:
            out[at:at] = rng.choice(HUGE_NUMBERS)
        elif kind == 3:
            out[at:at] = rng.choice(ODD_BYTES)
        elif kind == 4:  # delete a run (may cut a line or a message in two)
            del out[at : at + rng.randint(1, 64)]
        elif kind == 5 and out:  # repeat a slice (duplicate lines, runaway blocks)
            end = min(len(out), at + rng.randint(1, 200))
            out[at:at] = bytes(out[at:end]) * rng.randint(1, 8)
        else:  # replace the digits of the number at ``at`` (a result, an endpos...)
            _replace_number(rng, out, at)
    return bytes(out)


def _replace_number(rng: random.Random, out: bytearray, at: int) -> None:
    start = out.find(b"=", at)
    if start < 0:
        start = out.find(b": ", at)
        if start < 0:
            return
        start += 1
    start += 1
    end = start
    while end < len(out) and out[end : end + 1] in b"-0123456789":
        end += 1
    out[start:end] = rng.choice(HUGE_NUMBERS)


def chunks(rng: random.Random, data: bytes) -> Iterator[bytes]:
    """``data`` cut at random points (runs of single bytes included), then ``b""``."""
    i = 0
    while i < len(data):
        n = rng.choice((1, 1, 2, 3, rng.randint(1, 64), rng.randint(1, 4096)))
        yield data[i : i + n]
        i += n
    yield b""
