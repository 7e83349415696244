"""Spoken values in Vietnamese, as sequences of word-prompt ids (``w_...``).

The reading is the full "invoice" reading described in ``docs/domain.md`` (the same as
read-vietnamese-number and Asterisk's ``say.c``), not the looser colloquial reading of
``num2words``:

* the highest group of three digits is read short (``15`` -> mười lăm), every inner
  group is read in full and keeps ``không trăm`` (1005 -> một nghìn không trăm linh năm);
* a group that is entirely zero is skipped with its scale word, and the next non-empty
  group is still read in full: 1000001 -> một triệu không trăm linh một, and therefore
  1001000 -> một triệu không trăm linh một nghìn, 1000000001 -> một tỷ không trăm linh một;
* 10-19 use mười, 20 and up use mươi; after mươi a unit 1 is mốt, 4 is tư (a setting),
  5 is lăm (also after mười); a zero tens digit before a unit inside a group is linh
  (north) or lẻ (south), and the unit after linh/lẻ keeps its plain form (105 -> một
  trăm linh năm, 104 -> một trăm linh bốn);
* scales: nghìn (north) / ngàn (south), triệu, tỷ; above 999 tỷ the scales repeat
  (10^12 -> một nghìn tỷ).

Every function here is pure: values in, ids out. The catalog maps ids to prompts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

#: Plain digit words, index = digit.
DIGIT_WORDS = (
    "w_khong",
    "w_mot",
    "w_hai",
    "w_ba",
    "w_bon",
    "w_nam",
    "w_sau",
    "w_bay",
    "w_tam",
    "w_chin",
)
MUOI_10 = "w_muoi"  # mười: the tens word of 10-19
MUOI_TENS = "w_muoi_tens"  # mươi: the tens word after 2-9
MOT_AFTER_TENS = "w_mot_tens"  # mốt: unit 1 after mươi
LAM = "w_lam"  # lăm: unit 5 after mười/mươi
TU = "w_tu"  # tư: unit 4 after mươi
TRAM = "w_tram"
TRIEU = "w_trieu"
TY = "w_ty"
DONG = "w_dong"
PHAY = "w_phay"
AM = "w_am"  # âm: minus
NGAY = "w_ngay"
THANG = "w_thang"
NAM_YEAR = "w_nam"  # năm (year) is the same word, and the same audio, as năm (five)
GIO = "w_gio"
PHUT = "w_phut"
GIAY = "w_giay"


@dataclass(frozen=True, slots=True)
class ViStyle:
    """The regional choices a deployment makes (``Settings.speech_variant``)."""

    zero_tens: str
    """linh (north) or lẻ (south): the zero tens digit before a unit."""
    thousand: str
    """nghìn (north) or ngàn (south)."""
    four_after_tens: str = TU
    """tư (the usual reading in both regions) or bốn after mươi."""


NORTH = ViStyle(zero_tens="w_linh", thousand="w_nghin")
SOUTH = ViStyle(zero_tens="w_le", thousand="w_ngan")
VARIANTS = {"north": NORTH, "south": SOUTH}


def style_for(variant: str) -> ViStyle:
    """The style for a ``speech_variant`` setting; ValueError for an unknown one."""
    try:
        return VARIANTS[variant]
    except KeyError:
        raise ValueError(f"unknown Vietnamese variant {variant!r} (north or south)") from None


def _tens_units(tens: int, units: int, style: ViStyle) -> list[str]:
    """Read 0-99 as the last two digits of a group (no linh/lẻ handling here)."""
    if tens == 0:
        return [DIGIT_WORDS[units]] if units else []
    words = [MUOI_10] if tens == 1 else [DIGIT_WORDS[tens], MUOI_TENS]
    if units == 0:
        return words
    if units == 5:
        words.append(LAM)
    elif units == 1 and tens >= 2:
        words.append(MOT_AFTER_TENS)
    elif units == 4 and tens >= 2:
        words.append(style.four_after_tens)
    else:
        words.append(DIGIT_WORDS[units])
    return words


def _group(value: int, full: bool, style: ViStyle) -> list[str]:
    """Read 1-999. ``full`` keeps "không trăm" and linh/lẻ for an inner group."""
    hundreds, rest = divmod(value, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [DIGIT_WORDS[hundreds], TRAM]
    if (hundreds or full) and tens == 0 and units:
        return [*words, style.zero_tens, DIGIT_WORDS[units]]
    return words + _tens_units(tens, units, style)


def _below_billion(value: int, top: bool, style: ViStyle) -> list[str]:
    """Read 0 < value < 10^9; ``top`` is True when nothing bigger was read before it."""
    scales = (TRIEU, style.thousand, None)
    groups = (value // 1_000_000, value // 1000 % 1000, value % 1000)
    words: list[str] = []
    for group, scale in zip(groups, scales, strict=True):
        if group == 0:
            continue  # an empty group is skipped together with its scale word
        words += _group(group, full=not top, style=style)
        if scale:
            words.append(scale)
        top = False
    return words


def _positive(value: int, top: bool, style: ViStyle) -> list[str]:
    billions, rest = divmod(value, 1_000_000_000)
    words: list[str] = []
    if billions:
        # Above 999 tỷ the scales repeat: 10^12 is một nghìn tỷ, 10^18 một tỷ tỷ.
        words += [*_positive(billions, top, style), TY]
        top = False
    if rest:
        words += _below_billion(rest, top, style)
    return words


def number(value: int, style: ViStyle = NORTH) -> list[str]:
    """An integer in full invoice reading: 1005 -> một nghìn không trăm linh năm."""
    if value == 0:
        return [DIGIT_WORDS[0]]
    if value < 0:
        return [AM, *_positive(-value, True, style)]
    return _positive(value, True, style)


def decimal(value: Decimal, style: ViStyle = NORTH) -> list[str]:
    """A decimal number with phẩy: 3.5 -> ba phẩy năm; 3.05 -> ba phẩy không năm.

    The fraction is read the way Vietnamese speakers read it: its leading zeros one by
    one as không, then the remaining digits as a number (3.25 -> ba phẩy hai mươi lăm).
    """
    if not value.is_finite():
        raise ValueError(f"cannot speak {value}")
    sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    if exponent >= 0:
        return number(int(value), style)
    text = "".join(str(d) for d in digits).rjust(-exponent + 1, "0")
    whole, fraction = text[:exponent], text[exponent:]
    words = [AM] if sign else []
    words += [*number(int(whole), style), PHAY]
    stripped = fraction.lstrip("0")
    words += [DIGIT_WORDS[0]] * (len(fraction) - len(stripped))
    return words + number(int(stripped), style)


def digits(text: str) -> list[str]:
    """Digit by digit, 0 = không: "0901" -> không chín không một."""
    return [DIGIT_WORDS[int(ch)] for ch in text]


def money(value: int | Decimal, style: ViStyle = NORTH) -> list[str]:
    """An amount in đồng: 1250000 -> một triệu hai trăm năm mươi nghìn đồng."""
    words = decimal(value, style) if isinstance(value, Decimal) else number(value, style)
    return [*words, DONG]


def month(value: int, style: ViStyle = NORTH) -> list[str]:
    # April is always "tháng tư", never "tháng bốn".
    return [THANG, TU] if value == 4 else [THANG, *number(value, style)]


def date_words(value: date, style: ViStyle = NORTH) -> list[str]:
    """ngày 5 tháng 12 năm 2026, in words."""
    return [
        NGAY,
        *number(value.day, style),
        *month(value.month, style),
        NAM_YEAR,
        *number(value.year, style),
    ]


def time_words(value: time, style: ViStyle = NORTH) -> list[str]:
    """24-hour clock as in EVN's notices: 10 giờ 30 phút; 14 giờ (no "0 phút")."""
    words = [*number(value.hour, style), GIO]
    if value.minute:
        words += [*number(value.minute, style), PHUT]
    return words


def datetime_words(day: date, at: time, style: ViStyle = NORTH) -> list[str]:
    """10 giờ 30 phút ngày 5 tháng 12 năm 2026."""
    return time_words(at, style) + date_words(day, style)


def duration(seconds: int, style: ViStyle = NORTH) -> list[str]:
    """2 ngày 3 giờ 5 phút 10 giây: every non-zero part; 0 -> không giây."""
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    words: list[str] = []
    for amount, unit in ((days, NGAY), (hours, GIO), (minutes, PHUT), (secs, GIAY)):
        if amount:
            words += [*number(amount, style), unit]
    return words or [DIGIT_WORDS[0], GIAY]
