"""Service settings: command line over environment (``IVR_*``) over config file over defaults.

Secrets (AMI secret, web password hashes) come from the environment or from the
service config file (``--config`` / ``IVR_CONFIG``), never from the flows file that
supervisors edit. Everything binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ivr.config.diagnostics import Diagnostic, Diagnostics, did_you_mean, has_errors
from ivr.config.loader import EMPTY_FILE, YMap, YScalar, YValue, plain, read_yaml_file
from ivr.config.reader import Reader
from ivr.errors import IvrError


class SettingsError(IvrError, ValueError):
    """A setting has a value we cannot use; the message names it. From the service
    config file, ``diagnostics`` holds every problem with its position."""

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = ()) -> None:
        super().__init__(message)
        self.diagnostics = tuple(diagnostics)


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


#: The file's name in messages, the YAML limits' among them.
CONFIG_FILE = "service config file"
#: Settings the file may not set by their field name.
_NOT_FROM_FILE = frozenset({"users", "extra", "config_path"})
_USER_KEYS = ("name", "role", "password_hash", "queues", "interfaces")


def load_config_file(path: Path) -> dict[str, Any]:
    """Read the service config file into settings fields; SettingsError with every
    problem (``PATH:LINE:COL: error: message``, one a line) if it has any."""
    values, problems = read_config_file(path)
    if has_errors(problems):
        raise SettingsError("\n".join(str(d) for d in problems), problems)
    return values


def read_config_file(path: Path) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The settings fields the file sets and every problem in it, never an exception:
    read by the loader every YAML file goes through (positions, limits, safe tags)."""
    root, problems = read_yaml_file(path, CONFIG_FILE)
    if root is None:
        if [d.message for d in problems] == [EMPTY_FILE]:
            return {"config_path": path, "extra": {}}, []  # an empty file sets nothing
        return {}, problems
    return _ConfigFile(path).read(root)


class _ConfigFile:
    """One read of the service config file's positioned values into settings fields."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.diags = Diagnostics()
        self.reader = Reader(self.diags)
        self.known = {f.name for f in fields(Settings)}
        self.values: dict[str, Any] = {"config_path": path}
        self.extra: dict[str, Any] = {}

    def read_all(self, top: YMap) -> None:
        for key, value in top.items:
            name = str(key.value)
            if name == "ami":
                self.ami(value)
            elif name == "web":
                self.web(value)
            elif name == "metrics":
                self.metrics(value)
            elif name in self.known and name not in _NOT_FROM_FILE:
                self.setting(name, value)
            else:
                self.extra[name] = plain(value)  # a section for the subsystem that reads it

    def read(self, root: YValue) -> tuple[dict[str, Any], list[Diagnostic]]:
        top = self.reader.mapping(root, f"the {CONFIG_FILE}")
        if top is not None:
            self.read_all(top)
        values = self.values
        values["extra"] = self.extra
        base = self.path.parent
        for name in PATH_FIELDS:
            if name in values and not values[name].expanduser().is_absolute():
                values[name] = base / values[name]
        if "db_url" in values:
            values["db_url"] = _sqlite_beside(values["db_url"], base)
        return values, self.diags.sorted()

    def setting(self, name: str, value: YValue, field_name: str | None = None) -> None:
        scalar = self.reader.scalar(value, name)
        if scalar is None:
            return
        try:
            self.values[field_name or name] = _coerce(field_name or name, scalar.value)
        except SettingsError as exc:
            self.diags.error(value.mark, str(exc))

    def section(self, value: YValue, name: str) -> YMap | None:
        return self.reader.mapping(value, name)

    def ami(self, value: YValue) -> None:
        section = self.section(value, "ami")
        if section is None:
            return
        ami_keys = sorted(k[4:] for k in self.known if k.startswith("ami_"))
        for key, item in section.items:
            name = str(key.value)
            if name in ami_keys:
                self.setting(f"ami_{name}", item)
            else:
                self.diags.error(key.mark, f"unknown key under ami: {name!r}"
                                 f"{did_you_mean(name, ami_keys)}; the keys are "
                                 f"{', '.join(ami_keys)}")

    def web(self, value: YValue) -> None:
        section = self.section(value, "web")
        if section is None:
            return
        port = section.get("port")
        if port is not None:
            self.setting("web.port", port, "web_port")
        users = section.get("users")
        self.values["users"] = () if users is None else self.users(users)
        self.extra["web"] = plain(section)

    def users(self, value: YValue) -> tuple[WebUser, ...]:
        items = self.reader.seq(value, "web.users")
        out = []
        for i, item in enumerate(items or ()):
            what = f"web.users[{i}]"
            user = self.reader.mapping(item, what)
            if user is None:
                continue
            self.reader.keys(user, _USER_KEYS, what)
            texts = {k: self.reader.text(user.get(k), f"{what}.{k}")
                     for k in ("name", "role", "password_hash")}
            if any(user.get(k) is None for k in texts):
                self.diags.error(user.mark, f"{what} needs name, role and password_hash")
                continue
            role = texts["role"]
            if role is not None and role not in {"agent", "supervisor"}:
                self.diags.error(user.key_mark("role"),
                                 f"{what}.role must be agent or supervisor, not {role!r}")
                continue
            lists = {k: self.words(user.get(k), f"{what}.{k}") for k in ("queues", "interfaces")}
            if None in texts.values() or None in lists.values():
                continue
            out.append(WebUser(name=str(texts["name"]), role=str(role),
                               password_hash=str(texts["password_hash"]),
                               queues=lists["queues"] or (), interfaces=lists["interfaces"] or ()))
        return tuple(out)

    def words(self, value: YValue | None, what: str) -> tuple[str, ...] | None:
        if value is None or (isinstance(value, YScalar) and value.value is None):
            return ()
        items = self.reader.seq(value, what)
        if items is None:
            return None
        texts = [self.reader.text(item, f"{what} entry") for item in items]
        return None if None in texts else tuple(str(t) for t in texts)

    def metrics(self, value: YValue) -> None:
        section = self.section(value, "metrics")
        if section is None:
            return
        for key, _ in section.items:
            if key.value != "token":
                self.diags.error(key.mark, f"unknown key under metrics: {str(key.value)!r}; "
                                 "the key is 'token'")
        token = section.get("token")
        if token is not None and not (isinstance(token, YScalar) and token.value is None):
            self.setting("metrics.token", token, "metrics_token")


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
