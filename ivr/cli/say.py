"""``ivr say LANG KIND VALUE``: how the hotline speaks a value, as words and prompt ids.

$ ivr say vi money 1250000
một triệu hai trăm năm mươi nghìn đồng
w_mot w_trieu w_hai w_tram w_nam w_muoi_tens w_nghin w_dong
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from ivr.cli import UsageError

KIND_HELP = {
    "number": "an integer or decimal: 1005, 3.5 (3,5 also accepted)",
    "digits": "a digit string read one by one: 0901234567",
    "money": "an amount in VND: 1250000 (1.250.000 also accepted)",
    "date": "YYYY-MM-DD",
    "time": "HH:MM (local) or an ISO datetime with offset",
    "datetime": "ISO datetime; without an offset it is local time (Asia/Ho_Chi_Minh)",
    "duration": "seconds, or H:MM:SS",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kinds = "\n".join(f"  {k:9} {v}" for k, v in KIND_HELP.items())
    parser = subparsers.add_parser(
        "say",
        help="print how a value is spoken (words, then prompt ids)",
        description="Print how the hotline speaks a value: the words on the first line, "
        "the word-prompt ids on the second.",
        epilog=f"kinds:\n{kinds}\n\nexample: ivr say vi money 1250000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("language", metavar="LANG", help="vi or en")
    parser.add_argument("kind", metavar="KIND", choices=sorted(KIND_HELP), help="what VALUE is")
    parser.add_argument("value", metavar="VALUE",
                        help="the value, written as shown for its kind below")
    parser.add_argument(
        "--variant",
        choices=("north", "south"),
        default=None,
        help="Vietnamese reading (default: settings, IVR_SPEECH_VARIANT, else north)",
    )
    parser.add_argument("--config", metavar="FILE", help="service config file (YAML)")
    parser.set_defaults(func=run)


def _number(text: str, *, grouped_thousands: bool) -> int | Decimal:
    cleaned = text.replace(" ", "").replace("_", "")
    if grouped_thousands and "." in cleaned and "," not in cleaned:
        # Vietnamese writes 1.250.000 for money: dots group thousands.
        cleaned = cleaned.replace(".", "")
    cleaned = cleaned.replace(",", ".")  # Vietnamese decimal comma: 3,5
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise UsageError(f"not a number: {text!r}") from None
    if not number.is_finite():
        raise UsageError(f"not a number: {text!r}")
    return int(number) if number == number.to_integral_value() else number


def parse_value(kind: str, text: str) -> object:
    """The command-line text of a value, as the Python value ``say`` takes."""
    from ivr.clock import DEFAULT_TZ

    try:
        if kind in ("number", "money"):
            return _number(text, grouped_thousands=kind == "money")
        if kind == "digits":
            return text
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "time" and len(text) <= 8:
            return time.fromisoformat(text)
        if kind in ("time", "datetime"):
            moment = datetime.fromisoformat(text)
            return moment if moment.tzinfo else moment.replace(tzinfo=DEFAULT_TZ)
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) > 3:
                raise ValueError(text)
            seconds = 0
            for part in parts:
                seconds = seconds * 60 + part
            return timedelta(seconds=seconds)
        return timedelta(seconds=float(text))
    except ValueError:
        raise UsageError(f"{kind}: cannot read {text!r} ({KIND_HELP[kind]})") from None


def run(args: argparse.Namespace) -> int:
    import os

    from ivr.config.settings import SettingsError, load_settings
    from ivr.prompts.catalog import LANGUAGES, PromptCatalog

    if args.language not in LANGUAGES:
        raise UsageError(f"language must be one of {', '.join(LANGUAGES)}")
    try:
        settings = load_settings(
            os.environ, {"speech_variant": args.variant, "config_path": args.config}
        )
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    # Words only: no need for the flow prompts file to exist or be valid.
    catalog = PromptCatalog.from_texts(
        {}, prefix=settings.sounds_prefix, variant=settings.speech_variant
    )
    value = parse_value(args.kind, args.value)
    try:
        prompts = catalog.say(args.kind, value, args.language)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(" ".join(p.text for p in prompts))
    print(" ".join(p.id for p in prompts))
    return 0
