"""The two readings of every point BVNK's documentation leaves open.

`DEFAULTS` runs the emulator and the portal as shipped; `ALTERNATE` flips every switch at
once (bvnk_emulator/README.md, "Switches for what BVNK leaves open"). The journeys that
reach VERIFIED and the lost-answer fault tests run under both, so the portal is right
whichever way BVNK answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Variant:
    name: str
    # Environment of the emulator (the signature variables are read by both sides).
    emulator: dict[str, str] = field(default_factory=dict)
    # Settings of the portal that must agree with the emulator's choice.
    portal: dict[str, str] = field(default_factory=dict)

    @property
    def replays_creates(self) -> bool:
        return self.emulator.get("BVNK_EMULATOR_REPLAY", "replay") == "replay"

    @property
    def replays_wallets(self) -> bool:
        return self.emulator.get("BVNK_EMULATOR_WALLET_REPLAY", "conflict") == "replay"


_SIGNATURE = {"BVNK_WEBHOOK_SIGNATURE": "B", "BVNK_WEBHOOK_SIGNATURE_URL": "path"}

DEFAULTS = Variant("defaults")
ALTERNATE = Variant(
    "alternate",
    emulator={
        "BVNK_EMULATOR_CREATE_ANSWER": "pending",
        "BVNK_EMULATOR_INFO_REQUIRED_KEY": "questionnaires",
        "BVNK_EMULATOR_REPLAY": "conflict",
        "BVNK_EMULATOR_UPDATE_EVENT": "external_reference",
        "BVNK_EMULATOR_UPDATE_METHOD": "PATCH",
        "BVNK_EMULATOR_INDUSTRIES": "flat",
        "BVNK_EMULATOR_DOCUMENT_REASON_KEY": "reason",
        "BVNK_EMULATOR_WALLET_REPLAY": "replay",
        **_SIGNATURE,
    },
    portal={"BVNK_UPDATE_METHOD": "PATCH", **_SIGNATURE},
)
VARIANTS = (DEFAULTS, ALTERNATE)
