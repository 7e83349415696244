"""Service settings: command line over environment (``IVR_*``) over config file over defaults.

Secrets (AMI secret, web password hashes) come from the environment or from the
service config file (``--config`` / ``IVR_CONFIG``), never from the flows file that
supervisors edit. Everything binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names it."""


#: The demo hotline's flows and prompts ship inside the package, so ``ivr serve`` runs
#: from any directory. In a checkout they are links to ``config/`` (the supervisors'
#: files, the one source); ``tests/test_serve_anywhere.py`` checks they have not parted.
PACKAGED_DEMO = Path(__file__).resolve().parent.parent / "demo"

#: Settings that hold a path: written in the service config file, a relative one is
#: relative to that file (a unit started from / with --config /etc/ivr/ivr.yaml finds
#: /etc/ivr/flows.yaml), as an operator reading the file expects.
PATH_FIELDS = ("flows_path", "prompts_path", "recorded_prompts_dir", "data_dir")

#: Files that fall back to the packaged demo when nothing names them and the working
#: directory has no ``config/`` copy.
DEMO_FILES = ("flows_path", "prompts_path")


def shipped_default(local: Path) -> Path:
    """``local`` (``config/flows.yaml``, in a checkout) when it is there, else the demo
    copy inside the package."""
    return local if local.is_file() else PACKAGED_DEMO / local.name


@dataclass(frozen=True, slots=True)
class WebUser:
    name: str
    role: str
    """``agent`` or ``supervisor``."""
    password_hash: str
    """bcrypt hash (``ivr web hash-password`` prints one)."""
    queues: tuple[str, ...] = ()
    """Queues an agent serves; empty means every queue."""
    interfaces: tuple[str, ...] = ()
    """Asterisk queue-member interfaces that are this agent (``Local/1001@agents``)."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    """Address FastAGI and the web app bind to."""
    agi_port: int = 4573
    web_port: int = 8080
    loop: str = "asyncio"
    """Event loop ``ivr serve`` runs on: ``asyncio`` (the stdlib's) or ``uvloop``."""
    workers: int = 1
    """``ivr serve`` processes sharing the FastAGI and web ports (SO_REUSEPORT)."""
    db_url: str = ""
    """SQLAlchemy URL; empty means the SQLite file ``<data_dir>/ivr.db``."""
    flows_path: Path = Path("config/flows.yaml")
    prompts_path: Path = Path("config/prompts.yaml")
    recorded_prompts_dir: Path = Path("prompts/recorded")
    """Supervisors' recordings, ``<dir>/<lang>/<id>.(wav|m4a|mp3)``; they win over TTS."""
    data_dir: Path = Path("var")
    recordings_dir: str = ""
    """Where callers' recordings (``record`` nodes) go, as Asterisk writes them and ivr
    serves them: one directory both see at the same path. Empty: ``<data_dir>/recordings``."""
    sounds_prefix: str = "ivr"
    """Asterisk plays prompt ``id`` in language ``lang`` as ``<prefix>/<lang>/<id>``."""
    speech_variant: str = "north"
    """``north`` (linh, nghìn) or ``south`` (lẻ, ngàn) Vietnamese readings."""
    seed_demo: bool = True
    """Seed the demo data set into an empty database on start."""
    require_database: bool = False
    """Refuse to start when the database is unreachable (default: start degraded)."""
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = ""
    """Empty: no AMI; transfers go to the built-in queue (demo)."""
    ami_secret: str = ""
    users: tuple[WebUser, ...] = ()
    metrics_token: str = ""
    """Bearer token that opens ``/metrics`` to other hosts; loopback needs none."""
    log_format: str = "text"
    """``text`` or ``json`` (one object per line, for a log shipper)."""
    config_path: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Config file sections this module does not know, for the subsystem that does."""

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite+aiosqlite:///{self.data_dir / 'ivr.db'}"

    @property
    def recordings_path(self) -> Path:
        """The recordings directory, absolute (Asterisk reads a relative name as one
        under its own sounds directory)."""
        chosen = Path(self.recordings_dir) if self.recordings_dir else self.data_dir / "recordings"
        return chosen.expanduser().resolve()

    @property
    def prompt_build_dir(self) -> Path:
        return self.data_dir / "prompts"

    @property
    def ami_enabled(self) -> bool:
        return bool(self.ami_username)


#: Environment variable -> settings field.
ENV_VARS: Mapping[str, str] = {
    "IVR_HOST": "host",
    "IVR_AGI_PORT": "agi_port",
    "IVR_WEB_PORT": "web_port",
    "IVR_LOOP": "loop",
    "IVR_WORKERS": "workers",
    "IVR_DATABASE_URL": "db_url",
    "IVR_DB": "db_url",
    "IVR_FLOWS": "flows_path",
    "IVR_PROMPTS": "prompts_path",
    "IVR_RECORDED_PROMPTS": "recorded_prompts_dir",
    "IVR_DATA_DIR": "data_dir",
    "IVR_RECORDINGS_DIR": "recordings_dir",
    "IVR_SOUNDS_PREFIX": "sounds_prefix",
    "IVR_SPEECH_VARIANT": "speech_variant",
    "IVR_SEED_DEMO": "seed_demo",
    "IVR_REQUIRE_DATABASE": "require_database",
    "IVR_AMI_HOST": "ami_host",
    "IVR_AMI_PORT": "ami_port",
    "IVR_AMI_USERNAME": "ami_username",
    "IVR_AMI_SECRET": "ami_secret",
    "IVR_METRICS_TOKEN": "metrics_token",
    "IVR_LOG_FORMAT": "log_format",
}


def _coerce(name: str, raw: Any) -> Any:
    kinds = {f.name: f.type for f in fields(Settings)}
    kind = str(kinds[name])
    try:
        if kind == "int":
            return int(raw)
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind == "Path":
            return Path(str(raw))
        return str(raw)
    except ValueError:
        raise SettingsError(f"setting {name}: cannot use {raw!r}") from None


def _users(raw: Any, source: str) -> tuple[WebUser, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SettingsError(f"{source}: web.users must be a list")
    users = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or not {"name", "role", "password_hash"} <= set(item):
            raise SettingsError(f"{source}: web.users[{i}] needs name, role and password_hash")
        role = str(item["role"])
        if role not in {"agent", "supervisor"}:
            raise SettingsError(f"{source}: web.users[{i}].role must be agent or supervisor")
        users.append(
            WebUser(
                name=str(item["name"]),
                role=role,
                password_hash=str(item["password_hash"]),
                queues=tuple(str(q) for q in item.get("queues", ()) or ()),
                interfaces=tuple(str(q) for q in item.get("interfaces", ()) or ()),
            )
        )
    return tuple(users)


def load_config_file(path: Path) -> dict[str, Any]:
    """Read the service config file (YAML, safe loader) into settings fields."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        # One line with the position, as `ivr validate` says it (not PyYAML's four).
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise SettingsError(f"{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping at the top")
    values: dict[str, Any] = {"config_path": path}
    known = {f.name for f in fields(Settings)}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if key == "ami" and isinstance(value, Mapping):
            for k, v in value.items():
                values[f"ami_{k}"] = _coerce(f"ami_{k}", v) if f"ami_{k}" in known else v
        elif key == "web" and isinstance(value, Mapping):
            if "port" in value:
                values["web_port"] = _coerce("web_port", value["port"])
            values["users"] = _users(value.get("users"), str(path))
            extra["web"] = dict(value)
        elif key == "metrics" and isinstance(value, Mapping):
            unknown = sorted(str(k) for k in value if k != "token")
            if unknown:
                raise SettingsError(f"{path}: unknown key under metrics: "
                                    f"{', '.join(map(repr, unknown))}; the key is 'token'")
            if value.get("token") is not None:
                values["metrics_token"] = _coerce("metrics_token", value["token"])
        elif key in known and key not in {"users", "extra", "config_path"}:
            values[key] = _coerce(key, value)
        else:
            extra[key] = value
    unknown_ami = [k for k in values if k.startswith("ami_") and k not in known]
    if unknown_ami:
        ami_keys = sorted(k[4:] for k in known if k.startswith("ami_"))
        words = []
        for name in sorted(k[4:] for k in unknown_ami):
            close = difflib.get_close_matches(name, ami_keys, n=1)
            words.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise SettingsError(f"{path}: unknown key under ami: {', '.join(words)}; the keys "
                            f"are {', '.join(ami_keys)}")
    values["extra"] = extra
    base = path.parent
    for name in PATH_FIELDS:
        if name in values and not values[name].expanduser().is_absolute():
            values[name] = base / values[name]
    if "db_url" in values:
        values["db_url"] = _sqlite_beside(values["db_url"], base)
    return values


def _sqlite_beside(url: str, base: Path) -> str:
    """A relative SQLite file in the config file is relative to that file, like the
    other paths there (PostgreSQL URLs, absolute and in-memory SQLite pass through)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # said when the store opens it, with the advice about URL forms
    database = parsed.database or ""
    if (parsed.get_backend_name() != "sqlite" or not database or database == ":memory:"
            or database.startswith("file:") or Path(database).expanduser().is_absolute()):
        return url
    return parsed.set(database=str(base / database)).render_as_string(hide_password=False)


def load_settings(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build settings: defaults, then config file, then ``IVR_*`` environment, then CLI."""
    settings = Settings()
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    config = overrides.get("config_path") or environ.get("IVR_CONFIG")
    given = set(overrides)
    if config:
        from_file = load_config_file(Path(config))
        given |= set(from_file)
        settings = replace(settings, **from_file)
    env_values = {}
    for var, field_name in ENV_VARS.items():
        if environ.get(var, "") != "":
            try:
                env_values[field_name] = _coerce(field_name, environ[var])
            except SettingsError as exc:  # name the variable the operator actually set
                raise SettingsError(f"{var}: {exc}") from None
    settings = replace(settings, **env_values)
    given |= set(env_values)
    cli_values = {
        k: _coerce(k, v) if k not in {"users", "extra", "config_path"} else v
        for k, v in overrides.items()
        if k != "config_path"
    }
    settings = replace(settings, **cli_values)
    demo: dict[str, Any] = {name: shipped_default(getattr(settings, name))
                            for name in DEMO_FILES if name not in given}
    settings = replace(settings, **demo)
    if settings.speech_variant not in {"north", "south"}:
        raise SettingsError("speech_variant must be north or south")
    if settings.log_format not in {"text", "json"}:
        raise SettingsError(f"log_format must be text or json, not {settings.log_format!r}")
    return settings
