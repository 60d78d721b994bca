"""Emulator settings, read once from the environment at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/webhooks/bvnk/"
DEFAULT_DATA_PATH = "var/bvnk-emulator.sqlite3"

# Test mode trades realism for speed; explicit settings still win.
FAST_DEFAULTS = {
    "BVNK_EMULATOR_WEBHOOK_RETRY_BASE": 0.05,
    "BVNK_EMULATOR_WEBHOOK_RETRY_CAP": 1.0,
    "BVNK_EMULATOR_REVIEW_SECONDS": 0.2,
    "BVNK_EMULATOR_CHECK_SECONDS": 0.05,
    "BVNK_EMULATOR_WALLET_ACTIVATION_SECONDS": 0.2,
}


class ConfigError(ValueError):
    """An environment variable holds a value the emulator cannot use."""


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator reads from the environment."""

    hawk_auth_id: str = "emulator-hawk-id"
    # Well-known development defaults, shared with the portal's local settings.
    hawk_secret: str = "emulator-hawk-secret"  # noqa: S105
    webhook_secret: str = "emulator-webhook-secret"  # noqa: S105
    webhook_signature: str = "A"
    webhook_signature_url: str = "full"
    webhook_url: str = DEFAULT_WEBHOOK_URL
    data_path: Path = Path(DEFAULT_DATA_PATH)
    public_url: str = "http://127.0.0.1:8001"
    review_seconds: float = 10.0
    check_seconds: float = 2.0
    webhook_retry_base: float = 5.0
    webhook_retry_cap: float = 900.0
    webhook_attempts: int = 100
    webhook_timeout: float = 10.0
    fast: bool = False
    agreement_status_param: str = "status"
    latency_ms: int = 0
    legacy_status_events: bool = True
    request_log_size: int = 2000
    wallet_activation_seconds: float = 10.0
    # Where BVNK's documentation leaves a point open, one switch per plausible answer
    # (README "Switches for what BVNK leaves open"); the first value is the default.
    create_answer: str = "info_required"
    info_required_key: str = "questionnaireCodes"
    replay: str = "replay"
    update_event: str = "bvnk_reference"
    update_method: str = "PUT"
    industries: str = "nested"
    wallet_replay: str = "conflict"
    document_reason_key: str = "rejectionReason"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 8001,
    ) -> EmulatorConfig:
        """Build the config from environment variables, applying fast-mode defaults."""
        env = dict(os.environ if environ is None else environ)
        fast = _flag(env, "BVNK_EMULATOR_FAST", default=False)

        def number(name: str, default: float) -> float:
            fallback = FAST_DEFAULTS.get(name, default) if fast else default
            return _float(env, name, fallback)

        signature = env.get("BVNK_WEBHOOK_SIGNATURE", "A").strip().upper() or "A"
        if signature not in {"A", "B"}:
            raise ConfigError("BVNK_WEBHOOK_SIGNATURE must be A or B")
        signature_url = env.get("BVNK_WEBHOOK_SIGNATURE_URL", "full").strip().lower() or "full"
        if signature_url not in {"full", "path"}:
            raise ConfigError("BVNK_WEBHOOK_SIGNATURE_URL must be full or path")
        # 0.0.0.0 is where to listen, not an address a browser can open.
        public_host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104
        public_url = env.get("BVNK_EMULATOR_PUBLIC_URL", "").strip().rstrip("/")
        attempts = int(number("BVNK_EMULATOR_WEBHOOK_ATTEMPTS", 100))
        if attempts < 1:
            raise ConfigError("BVNK_EMULATOR_WEBHOOK_ATTEMPTS must be at least 1")
        return cls(
            hawk_auth_id=env.get("BVNK_HAWK_AUTH_ID", cls.hawk_auth_id),
            hawk_secret=env.get("BVNK_HAWK_SECRET", cls.hawk_secret),
            webhook_secret=env.get("BVNK_WEBHOOK_SECRET", cls.webhook_secret),
            webhook_signature=signature,
            webhook_signature_url=signature_url,
            webhook_url=env.get("BVNK_EMULATOR_WEBHOOK_URL", DEFAULT_WEBHOOK_URL).strip(),
            data_path=Path(env.get("BVNK_EMULATOR_DATA", "") or DEFAULT_DATA_PATH),
            public_url=public_url or f"http://{public_host}:{port}",
            review_seconds=number("BVNK_EMULATOR_REVIEW_SECONDS", 10.0),
            check_seconds=number("BVNK_EMULATOR_CHECK_SECONDS", 2.0),
            webhook_retry_base=number("BVNK_EMULATOR_WEBHOOK_RETRY_BASE", 5.0),
            webhook_retry_cap=number("BVNK_EMULATOR_WEBHOOK_RETRY_CAP", 900.0),
            webhook_attempts=attempts,
            webhook_timeout=number("BVNK_EMULATOR_WEBHOOK_TIMEOUT", 10.0),
            fast=fast,
            agreement_status_param=env.get("BVNK_EMULATOR_AGREEMENT_STATUS_PARAM", "status")
            or "status",
            latency_ms=int(number("BVNK_EMULATOR_LATENCY_MS", 0)),
            request_log_size=max(1, int(number("BVNK_EMULATOR_REQUEST_LOG_SIZE", 2000))),
            wallet_activation_seconds=number("BVNK_EMULATOR_WALLET_ACTIVATION_SECONDS", 10.0),
            legacy_status_events=_flag(env, "BVNK_EMULATOR_LEGACY_STATUS_EVENTS", default=True),
            **{field: _choice(env, name, allowed) for field, (name, allowed) in SWITCHES.items()},
        )

    def describe(self) -> str:
        """Return a one-line summary for the startup banner."""
        target = self.webhook_url or "nowhere (delivery disabled)"
        variant = self.webhook_signature
        if variant == "B":
            variant += f" ({self.webhook_signature_url} URL)"
        mode = ", fast mode" if self.fast else ""
        switches = [
            f"{name}={getattr(self, field)}"
            for field, (name, allowed) in SWITCHES.items()
            if getattr(self, field) != allowed[0]
        ]
        chosen = f"; switches {', '.join(switches)}" if switches else ""
        return (
            f"BVNK emulator listening on {self.public_url}; webhooks -> {target}, "
            f"signature variant {variant}; state in {self.data_path}{mode}{chosen}"
        )


# Field -> (environment variable, allowed values with the default first).
SWITCHES: dict[str, tuple[str, tuple[str, ...]]] = {
    "create_answer": ("BVNK_EMULATOR_CREATE_ANSWER", ("info_required", "pending")),
    "info_required_key": (
        "BVNK_EMULATOR_INFO_REQUIRED_KEY",
        ("questionnaireCodes", "questionnaires"),
    ),
    "replay": ("BVNK_EMULATOR_REPLAY", ("replay", "conflict")),
    "update_event": ("BVNK_EMULATOR_UPDATE_EVENT", ("bvnk_reference", "external_reference")),
    "update_method": ("BVNK_EMULATOR_UPDATE_METHOD", ("PUT", "PATCH")),
    "industries": ("BVNK_EMULATOR_INDUSTRIES", ("nested", "flat")),
    "wallet_replay": ("BVNK_EMULATOR_WALLET_REPLAY", ("conflict", "replay")),
    "document_reason_key": (
        "BVNK_EMULATOR_DOCUMENT_REASON_KEY",
        ("rejectionReason", "reason", "comment"),
    ),
}


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return allowed[0]
    for value in allowed:
        if raw.lower() == value.lower():
            return value
    raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value
