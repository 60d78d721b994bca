"""Wallets v2 for verified customers (BVNK docs, Beta: set-up-wallets, create-wallet,
migrate-wallets-v1-to-v2, manage-wallet; the ledger:v2:wallet:status-change webhook).

Documented: profiles per customer filtered with a Lucene-like `q` (`customerId`,
`currency`, `method`); `POST /ledger/v2/wallets` `{currency, name, customerId, profileId}`
with an `Idempotency-Key`; a new wallet is INACTIVE until BVNK activates it, then the
webhook says ACTIVE. Observed in a public capture of BVNK's sandbox: fiat
`paymentInstruments` (`accountNumber`, `accountHolderName`, `bankDetails.{name, bic,
nid}`). The emulator's own choices (INFERRED, README "Wallets"): which profiles each
jurisdiction gets, crypto instruments `{type: CRYPTO, address, network}`, 403
`BVNK:LEDGER:4003` for a customer not VERIFIED, and the activation delay.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from typing import Any

from bvnk_emulator import shapes
from bvnk_emulator.config import EmulatorConfig
from bvnk_emulator.errors import ApiError, NotFound, ValidationError
from bvnk_emulator.ids import iso_now
from bvnk_emulator.lifecycle import Lifecycle
from bvnk_emulator.store import Row, Store
from bvnk_emulator.webhooks import Outbox

Json = dict[str, Any]
EVENT_WALLET_STATUS = "ledger:v2:wallet:status-change"
INACTIVE, ACTIVE = "INACTIVE", "ACTIVE"
CRYPTO = ("USDC", "USDT", "BTC", "ETH", "SOL", "TRX")  # the US subset BVNK documents
# Jurisdiction -> fiat profiles as (currency, methods).
FIAT_PROFILES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "US": (("USD", ("ACH", "ACH_SAME_DAY", "FEDWIRE")),),
    "GB": (("GBP", ("FASTER_PAYMENT", "CHAPS")), ("EUR", ("SEPA_CT", "SEPA_INST"))),
    "EU": (("EUR", ("SEPA_CT", "SEPA_INST")), ("USD", ("SWIFT",))),
}
_TERM = re.compile(r"(\w+):(\([^)]*\)|[^\s()]+)")


def parse_query(q: str) -> dict[str, set[str]]:
    """Read `field:value AND field:(A OR B)` into {field: values}; unknown fields are kept
    (BVNK ignores them), field names are case-sensitive as documented."""
    terms: dict[str, set[str]] = {}
    for field, raw in _TERM.findall(q or ""):
        values = raw.strip("()").split(" OR ")
        terms.setdefault(field, set()).update(v.strip() for v in values if v.strip())
    return terms


class Wallets:
    """Profiles, wallet creation, reads and the activation that follows."""

    def __init__(
        self, config: EmulatorConfig, store: Store, outbox: Outbox, lifecycle: Lifecycle
    ) -> None:
        self.config = config
        self.store = store
        self.outbox = outbox
        self.lifecycle = lifecycle
        lifecycle.timer_handlers["wallet"] = self.activate

    # -- profiles -----------------------------------------------------------------------

    def profiles_for(self, auth_id: str, customer: Row) -> list[Json]:
        address = customer["data"].get("address") or {}
        country = address.get("countryCode") or ""
        jurisdiction = country if country in ("US", "GB") else "EU"
        fiat = [
            {
                "id": f"fiat:{currency.lower()}:{_token(auth_id, jurisdiction, currency)}",
                "currencies": [currency],
                "methods": list(methods),
            }
            for currency, methods in FIAT_PROFILES[jurisdiction]
        ]
        crypto = {
            "id": f"crypto:custodial:{_token(auth_id, 'crypto')}",
            "currencies": list(CRYPTO),
            "methods": [],
        }
        return [*fiat, crypto]

    def profiles(self, auth_id: str, q: str) -> Json:
        terms = parse_query(q)
        customers = terms.get("customerId") or set()
        if len(customers) != 1:
            raise ValidationError({"q": ["Filter by one customerId: q=customerId:<id>"]})
        customer = self._customer(auth_id, next(iter(customers)), field="q")
        found = [
            profile
            for profile in self.profiles_for(auth_id, customer)
            if (not terms.get("currency") or terms["currency"] & set(profile["currencies"]))
            and (not terms.get("method") or terms["method"] & set(profile["methods"]))
        ]
        return {"totalElements": len(found), "totalPages": 1, "content": found, "hasNext": False}

    # -- wallets ------------------------------------------------------------------------

    def create(self, auth_id: str, body: Any) -> Json:
        if not isinstance(body, dict):
            raise ValidationError({"body": ["A JSON object is required"]})
        errors: dict[str, list[str]] = {}
        for field in ("currency", "name", "customerId"):
            if not str(body.get(field) or "").strip():
                errors[field] = ["must not be blank"]
        if errors:
            raise ValidationError(errors)
        customer = self._customer(auth_id, str(body["customerId"]), field="customerId")
        if customer["status"] != "VERIFIED":
            raise ApiError(
                403,
                "Forbidden",
                {"customerId": [f"Customer is {customer['status']}; wallets need VERIFIED"]},
                code="BVNK:LEDGER:4003",
            )
        currency = str(body["currency"]).upper()
        profiles = self.profiles_for(auth_id, customer)
        profile_id = str(body.get("profileId") or "")
        if not profile_id and currency in CRYPTO:
            profile_id = profiles[-1]["id"]  # crypto may leave the profile out
        profile = next((p for p in profiles if p["id"] == profile_id), None)
        if profile is None:
            raise ValidationError({"profileId": ["Unknown profile for this customer"]})
        if currency not in profile["currencies"]:
            raise ValidationError({"currency": [f"{currency} is not offered by {profile_id}"]})
        wallet_id = f"a:{secrets.randbelow(10**14):014d}:{secrets.token_urlsafe(5)[:7]}:1"
        now = iso_now()
        wallet = {
            "id": wallet_id,
            "name": str(body["name"]),
            "status": INACTIVE,
            "profileId": profile_id,
            "customer": {"id": customer["reference"], "name": shapes.customer_name(customer)},
            "balance": {"amount": 0, "currency": currency},
            "paymentInstruments": [],
            "createdAt": now,
            "updatedAt": now,
        }
        with self.store.transaction():
            self.store.insert(
                "wallets",
                {
                    "id": wallet_id,
                    "auth_id": auth_id,
                    "customer_reference": customer["reference"],
                    "status": INACTIVE,
                    "body": wallet,
                    "created_at": now,
                },
            )
            self.lifecycle.schedule("wallet", wallet_id, self.config.wallet_activation_seconds)
        return wallet

    def activate(self, wallet_id: str) -> None:
        """Give a wallet its account details, make it ACTIVE and say so by webhook."""
        row = self.store.get("wallets", "id", wallet_id)
        if row is None or row["status"] != INACTIVE:
            return
        wallet = dict(row["body"])
        wallet["status"] = ACTIVE
        wallet["updatedAt"] = iso_now()
        wallet["paymentInstruments"] = [_instrument(wallet)]
        self.store.update("wallets", "id", wallet_id, status=ACTIVE, body=wallet)
        self.outbox.enqueue(
            EVENT_WALLET_STATUS, wallet, customer_reference=row["customer_reference"]
        )

    def get(self, auth_id: str, wallet_id: str) -> Json:
        row = self.store.get("wallets", "id", wallet_id)
        if row is None or row["auth_id"] != auth_id:
            raise NotFound(f"Wallet not found: {wallet_id}")
        return dict(row["body"])

    def listing(self, auth_id: str, args: Mapping[str, str]) -> Json:
        terms = parse_query(args.get("q", ""))
        rows = self.store.query(
            "SELECT * FROM wallets WHERE auth_id = ? ORDER BY created_at", (auth_id,)
        )
        wallets = [
            {k: v for k, v in row["body"].items() if k != "paymentInstruments"}
            for row in rows
            if (not terms.get("customerId") or row["customer_reference"] in terms["customerId"])
            and (not terms.get("status") or row["status"] in terms["status"])
            and (
                not terms.get("currency") or row["body"]["balance"]["currency"] in terms["currency"]
            )
        ]
        try:
            page, size = int(args.get("pageNumber", 0)), int(args.get("pageSize", 20))
        except ValueError:
            raise ValidationError({"pageSize": ["must be a number"]}) from None
        chosen = wallets[page * size : (page + 1) * size]
        return {
            "content": chosen,
            "pageable": {"pageNumber": page, "pageSize": size},
            "hasNext": (page + 1) * size < len(wallets),
        }

    def _customer(self, auth_id: str, reference: str, *, field: str) -> Row:
        customer = self.store.get("customers", "reference", reference)
        if customer is None or customer["auth_id"] != auth_id:
            raise ValidationError({field: [f"Customer not found: {reference}"]})
        return customer


def _token(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:8]


def _instrument(wallet: Json) -> Json:
    """Account details once active: fiat as the sandbox capture shows, crypto INFERRED."""
    currency = wallet["balance"]["currency"]
    seed = int(hashlib.sha256(wallet["id"].encode()).hexdigest(), 16)
    holder = wallet["customer"]["name"]
    if currency in CRYPTO:
        network = {"BTC": "BITCOIN", "SOL": "SOLANA", "TRX": "TRON"}.get(currency, "ETHEREUM")
        return {"type": "CRYPTO", "address": f"0x{seed % 16**40:040x}", "network": network}
    if currency == "GBP":
        sort_code = f"{seed % 10**6:06d}"
        account, nid = f"{seed % 10**8:08d}", {"value": sort_code, "type": "SORT_CODE"}
        bank = {"name": "EMULATOR BANK UK", "bic": "EMULGB2LXXX", "nid": nid}
    elif currency == "EUR":
        account = f"EE{seed % 100:02d}{seed % 10**16:016d}"
        bank = {"name": "EMULATOR BANK EU", "bic": "EMULEE2XXXX"}
    else:
        account = f"{seed % 10**12:012d}"
        nid = {"value": f"{seed % 10**9:09d}", "type": "ROUTING_NUMBER"}
        bank = {"name": "EMULATOR BANK US", "bic": "EMULUS33XXX", "nid": nid}
    return {
        "type": "FIAT",
        "accountHolderName": holder,
        "accountNumber": account,
        "bankDetails": bank,
    }
