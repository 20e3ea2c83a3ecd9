"""Settings: NTR_ environment variables over an optional TOML file, validated once."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

from ntrbot.config_checks import validate
from ntrbot.settings import PREFIX, ConfigError, Settings


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in {"1", "true", "yes", "on"}:
        return True
    if s in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _to_list(v: Any) -> tuple[str, ...]:
    items = v if isinstance(v, list | tuple) else str(v).split(",")
    return tuple(s for s in (str(i).strip() for i in items) if s)


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("expected a whole number")
    if isinstance(v, int):
        return v
    return int(str(v).strip())


def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError("expected a number")
    f = float(v) if isinstance(v, int | float) else float(str(v).strip())
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError("expected a finite number")
    return f


def _to_str(v: Any) -> str:
    if isinstance(v, dict | list):
        raise ValueError("expected a string")
    return str(v).strip()


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "int": _to_int, "float": _to_float, "bool": _to_bool,
    "tuple[str, ...]": _to_list, "str": _to_str, "str | None": _to_str,
}


def _read_toml(path: str) -> dict[str, Any]:
    import tomllib  # only with a config file: most deployments set NTR_ variables only

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {path}") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("config", f"cannot read {path}: {exc}") from None
    # Allow an optional [ntrbot] table; keys may be `port` or `NTR_PORT`.
    # (not `{**data, **data.pop("ntrbot")}`: that copies the key before popping it)
    table = data.get("ntrbot")
    if isinstance(table, dict):
        data = {k: v for k, v in data.items() if k != "ntrbot"} | table
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key.lower()
        if name.startswith("ntr_"):
            name = name[4:]
        out[name] = value
    return out


def load_settings(environ: Mapping[str, str] | None = None,
                  config_file: str | None = None) -> Settings:
    """Build Settings from a TOML file (optional) and the environment (which wins)."""
    env = os.environ if environ is None else environ
    config_file = config_file or env.get("NTR_CONFIG") or None
    raw: dict[str, Any] = _read_toml(config_file) if config_file else {}
    known = {f.name: f for f in dataclasses.fields(Settings)}
    unknown = sorted(k for k in raw if k not in known)
    if unknown:
        raise ConfigError(unknown[0], f"unknown setting in {config_file}")
    for name in known:
        value = env.get(PREFIX + name.upper())
        if value is not None:
            raw[name] = value
    values: dict[str, Any] = {}
    for name, f in known.items():
        if name not in raw:
            continue
        value = raw[name]
        kind = str(f.type)
        if kind.endswith("| None") and (value is None or str(value).strip() == ""):
            values[name] = None
            continue
        try:
            values[name] = _CONVERT[kind](value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(name, f"invalid value ({exc})") from None
    if not values.get("admin_token"):
        raise ConfigError("admin_token",
                          "required (any long random string; `ntrbot gen-secret` makes one)")
    settings = Settings(**values)
    validate(settings)
    return settings
