"""BVNK wire values in one place.

Each value names its evidence: a BVNK documentation page (docs.bvnk.com) or a public
capture of BVNK's sandbox. Values marked INFERRED are this project's decisions where
BVNK's documentation is silent; each names the emulator switch that plays the other
plausible answer, and the README's "Going live" section lists them all with how to
confirm them against BVNK's sandbox (`manage.py bvnk_check`).
"""

from __future__ import annotations

from typing import Any

API_PREFIX = "/platform/v1"
# BVNK docs, API overview "Idempotency": v1 takes X-Idempotency-Key, v2 Idempotency-Key.
IDEMPOTENCY_HEADER = "X-Idempotency-Key"

CUSTOMER_TYPES = {"COMPANY": "Company", "INDIVIDUAL": "Individual"}

# BVNK docs, create-customers-com (status table), plus ACTIONS_REQUIRED and TERMINATED seen
# in a public capture of BVNK's sandbox.
CUSTOMER_STATUSES = {
    "INFO_REQUIRED": "Info required",
    "PENDING": "Pending review",
    "VERIFIED": "Verified",
    "ACTIONS_REQUIRED": "Actions required",
    "REJECTED": "Rejected",
    "TERMINATED": "Terminated",
}

# BVNK docs, creating-a-company-customer: the first five. INFERRED: OTHER is the portal's.
ENTITY_TYPES = {
    "LLC": "Limited liability company",
    "CORPORATION": "Corporation",
    "PARTNERSHIP": "Partnership",
    "SOLE_PROPRIETOR": "Sole proprietor",
    "TRUST": "Trust",
    "OTHER": "Other",
}

# INFERRED: the portal's associate roles (the partner guide's words) and the `titles` sent
# for each; BVNK's documentation shows no title values for v1 associates.
ASSOCIATE_ROLE_TITLES = {
    "BENEFICIAL_OWNER": "UBO",
    "CONTROLLING_PERSON": "DIRECTOR",
    "SIGNER": "REPRESENTATIVE",
}

# BVNK docs, signing-customer-agreements (STABLECOIN_PAYOUTS); the other two seen in public
# clients against BVNK's sandbox.
USE_CASES = {
    "EMBEDDED_FIAT_ACCOUNTS": "Embedded fiat accounts",
    "EMBEDDED_STABLECOIN_WALLETS": "Embedded stablecoin wallets",
    "STABLECOIN_PAYOUTS": "Stablecoin payouts",
}
AGREEMENT_SESSION_STATUSES = {"PENDING": "Pending", "SIGNED": "Signed", "DECLINED": "Declined"}

# The individual's customer due diligence (`cdd`) answers, from BVNK docs
# compliance-requirements-for-individuals and a public capture of BVNK's sandbox.
EMPLOYMENT_STATUSES = {
    "SALARIED": "Salaried",
    "SELF_EMPLOYED": "Self-employed",
    "UNEMPLOYED": "Unemployed",
    "RETIRED": "Retired",
    "NOT_PROVIDED": "Prefers not to say",
}
SOURCES_OF_FUNDS = {
    "SALARY": "Salary",
    "PENSION": "Pension",
    "SAVINGS": "Savings",
    "SELF_EMPLOYMENT": "Self-employment",
    "CRYPTO_TRADING": "Crypto trading",
    "GAMBLING": "Gambling",
    "REAL_ESTATE": "Real estate",
}
PEP_STATUSES = {
    "NOT_PEP": "Not a politically exposed person",
    "FORMER_PEP_2_YEARS": "Former PEP (within 2 years)",
    "FORMER_PEP_OLDER": "Former PEP (more than 2 years ago)",
    "DOMESTIC_PEP": "Domestic PEP",
    "FOREIGN_PEP": "Foreign PEP",
    "CLOSE_ASSOCIATES": "Close associate of a PEP",
    "FAMILY_MEMBERS": "Family member of a PEP",
}
INTENDED_USES = {
    "TRANSFERS_OWN_WALLET": "Transfers to own wallet",
    "TRANSFERS_FAMILY_FRIENDS": "Transfers to family and friends",
    "INVESTMENTS": "Investments",
    "GOODS_SERVICES": "Paying for goods and services",
    "DONATIONS": "Donations",
}
VOLUME_CURRENCIES = {"USD": "US dollar", "EUR": "Euro"}
YEARLY_INCOMES = {
    "INCOME_0_TO_50K": "Up to 50k",
    "INCOME_50K_TO_100K": "50k to 100k",
    "INCOME_100K_TO_250K": "100k to 250k",
    "INCOME_250K_TO_500K": "250k to 500k",
    "INCOME_500K_TO_750K": "500k to 750k",
    "INCOME_750K_TO_1M": "750k to 1M",
    "INCOME_ABOVE_1M": "Above 1M",
}
# `cdd.employmentIndustrySector`: the list a public client uses live against BVNK's sandbox
# for US individuals (BVNK's documented list was not readable).
INDUSTRY_SECTORS = {
    "INVESTMENT": "Investment",
    "HEDGE_FUND": "Hedge fund",
    "MONEY_SERVICE_BUSINESS": "Money service business",
    "STO_ISSUER": "Security token offering (STO) issuer",
    "PRECIOUS_METALS": "Precious metals",
    "NON_PROFIT": "Non-profit",
    "REGISTERED_INVESTMENT_ADVISOR": "Registered investment adviser",
    "AGRICULTURE_FORESTRY_FISHING_HUNTING": "Agriculture, forestry, fishing and hunting",
    "MINING": "Mining",
    "UTILITIES": "Utilities",
    "CONSTRUCTION": "Construction",
    "MANUFACTURING": "Manufacturing",
    "WHOLESALE_TRADE": "Wholesale trade",
    "RETAIL_TRADE": "Retail trade",
    "TRANSPORTATION_WAREHOUSING": "Transportation and warehousing",
    "INFORMATION": "Information and media",
    "FINANCE_INSURANCE": "Finance and insurance",
    "REAL_ESTATE_RENTAL_LEASING": "Real estate, rental and leasing",
    "PROFESSIONAL_SCIENTIFIC_TECHNICAL_SERVICES": "Professional, scientific and technical services",
    "MANAGEMENT_OF_COMPANIES_ENTERPRISES": "Management of companies and enterprises",
    "ADMINISTRATIVE_SUPPORT_WASTE_MANAGEMENT_REMEDIATION_SERVICES": (
        "Administrative support, waste management and remediation"
    ),
    "EDUCATIONAL_SERVICES": "Educational services",
    "HEALTH_CARE_SOCIAL_ASSISTANCE": "Health care and social assistance",
    "ARTS_ENTERTAINMENT_RECREATION": "Arts, entertainment and recreation",
    "ACCOMMODATION_FOOD_SERVICES": "Accommodation and food services",
    "OTHER_SERVICES": "Other services",
    "PUBLIC_ADMINISTRATION": "Public administration",
    "NOT_CLASSIFIED": "Not classified",
    "ADULT_ENTERTAINMENT": "Adult entertainment",
    "AUCTIONS": "Auctions",
    "AUTOMOBILES": "Automobiles",
    "BLOCKCHAIN": "Blockchain",
    "CRYPTO": "Crypto",
    "DRUGS": "Drugs",
    "EXPORT_IMPORT": "Export and import",
    "E_COMMERCE": "E-commerce",
    "FINANCIAL_INSTITUTION": "Financial institution",
    "GAMBLING": "Gambling",
    "INSURANCE": "Insurance",
    "MARKET_MAKER": "Market maker",
    "SHELL_BANK": "Shell bank",
    "TRAVEL_TRANSPORT": "Travel and transport",
    "WEAPONS": "Weapons",
}

# BVNK docs, add-documents-to-customers and the compliance requirements pages: document
# kinds as (type, subType). INFERRED: DRIVER_LICENSE (one page spells DRIVERS_LICENSE).
COMPANY_DOCUMENTS = {
    ("COMPANY_DOC", "INCORPORATION_CERT"): "Certificate of incorporation",
    ("COMPANY_DOC", "INCORPORATION_ARTICLES"): "Articles of association",
    ("COMPANY_DOC", "DIRECTORS_REGISTRY"): "Register of directors",
    ("COMPANY_DOC", "PROOF_OF_ADDRESS"): "Company proof of address",
    ("POWER_OF_ATTORNEY", "POWER_OF_ATTORNEY"): "Power of attorney",
}
PERSON_DOCUMENTS = {
    ("PASSPORT", "FRONT_SIDE"): "Passport",
    ("ID_CARD", "FRONT_SIDE"): "ID card (front)",
    ("ID_CARD", "BACK_SIDE"): "ID card (back)",
    ("DRIVER_LICENSE", "FRONT_SIDE"): "Driving licence (front)",
    ("DRIVER_LICENSE", "BACK_SIDE"): "Driving licence (back)",
    ("RESIDENCE_PERMIT", "FRONT_SIDE"): "Residence permit (front)",
    ("RESIDENCE_PERMIT", "BACK_SIDE"): "Residence permit (back)",
    ("PROOF_OF_RESIDENCE", ""): "Proof of address",
    ("SELFIE", ""): "Selfie",
}
IDENTITY_DOCUMENT_TYPES = ("PASSPORT", "ID_CARD", "DRIVER_LICENSE", "RESIDENCE_PERMIT")
TWO_SIDED_DOCUMENT_TYPES = ("ID_CARD", "DRIVER_LICENSE", "RESIDENCE_PERMIT")

# BVNK docs, webhook reference pages (customer-status-change, platform-customer-*): the
# events the portal handles. BVNK sends the legacy and the new status-change names side by
# side for now; the three describe one change.
EVENT_STATUS_CHANGE = "bvnk:platform:customer:status-change"
EVENT_STATUS_CHANGE_ALIASES = (
    EVENT_STATUS_CHANGE,
    "bvnk:customers:status-change",
    "platform:accounts:customer:status-change",
)
EVENT_CUSTOMER_UPDATE = "bvnk:platform:customer:update"
EVENT_AGREEMENT_SESSION = "bvnk:platform:customer:agreement-session-status-change"
EVENT_DOCUMENT_STATUS = "bvnk:platform:customer:document-status-change"
# BVNK's reason for rejecting a document. BVNK's webhook reference pages
# (platform-customer-document-status-change, reference/customerdocumentstatuschange) name
# the event and say it reports the document's verification status, but show no body, and
# no page names a reason field. Unconfirmed: the portal reads the first of these keys
# present; the emulator's BVNK_EMULATOR_DOCUMENT_REASON_KEY switch plays each of them.
DOCUMENT_REASON_KEYS = ("rejectionReason", "reason", "comment")
# BVNK's words on a document it asks for, on an `infoRequired.documents` entry. No BVNK
# page shows that list's entries (the emulator's shape is its own extension); v2's
# `requiredActions[]` entries carry an optional `description` (BVNK's v2 get-customer
# reference and manage-customers guide), so the portal reads that key when present.
REQUESTED_DOCUMENT_NOTE_KEY = "description"


def questionnaire_codes(info_required: dict[str, Any] | None) -> list[str]:
    """Return the questionnaire codes BVNK asks for, in whichever shape it sent them.

    The partner guide's create answer shows `questionnaireCodes`; BVNK's onboarding guide
    (onboard-epc) shows `questionnaires` on GET, as codes or objects with a `code`.
    The emulator's BVNK_EMULATOR_INFO_REQUIRED_KEY switch plays either.
    """
    if not info_required:
        return []
    codes: list[str] = []
    for item in info_required.get("questionnaireCodes") or []:
        codes.append(str(item))
    for item in info_required.get("questionnaires") or []:
        code = item.get("code") if isinstance(item, dict) else item
        if code:
            codes.append(str(code))
    return list(dict.fromkeys(codes))


# Paths of the v1 endpoints the client calls (BVNK API explorer, customers and agreement
# pages). `{reference}` is filled in, URL-quoted, by the client.
PATH_AGREEMENT_SESSIONS = f"{API_PREFIX}/customers/agreement/sessions"
PATH_AGREEMENT_SESSION = f"{API_PREFIX}/customers/agreement/sessions/{{reference}}"
PATH_CUSTOMERS = f"{API_PREFIX}/customers"
PATH_CUSTOMER = f"{API_PREFIX}/customers/{{reference}}"
PATH_CUSTOMER_DOCUMENTS = f"{API_PREFIX}/customers/{{reference}}/documents"
PATH_CUSTOMER_QUESTIONNAIRES = f"{API_PREFIX}/customers/{{reference}}/questionnaires"
PATH_QUESTIONNAIRE_DEFINITIONS = f"{API_PREFIX}/customers/questionnaire/definitions"
# BVNK API reference pages getindustries and getmonthlyexpectedvolumes: "a definitive list
# of industries and sub-industries", each industry with its sub-industries under
# `children`; `industryReference` takes a sub-industry's reference. INFERRED: the item
# fields beyond `reference`, `name` and `children`; an industry without children is
# taken to be selectable itself. The emulator's BVNK_EMULATOR_INDUSTRIES switch serves the
# nested list (`nested`) or a flat one (`flat`).
PATH_INDUSTRIES = f"{API_PREFIX}/accounts/industries"
PATH_MONTHLY_EXPECTED_VOLUMES = f"{API_PREFIX}/accounts/monthly-expected-volumes"

# Finding a customer by the partner's externalReference after a lost create answer.
# BVNK's v2 list filters on `reference` (docs: manage-customers), and a public client
# observed in BVNK's sandbox that a v1-created customer's v2 `reference` is its v1
# `externalReference` and its v2 `id` its v1 `reference`. INFERRED that every partner
# account may call the v2 list; `bvnk_check` calls it.
PATH_V2_CUSTOMERS = "/platform/v2/customers"

# Update: the partner guide (update-embedded-partner-customer) shows PUT, BVNK's API
# explorer (update-customer) PATCH, for the same path. INFERRED: PUT by default; the
# portal's BVNK_UPDATE_METHOD setting and the emulator's BVNK_EMULATOR_UPDATE_METHOD
# switch take either.
UPDATE_METHODS = ("PUT", "PATCH")

MAX_PAGE_SIZE = 100  # BVNK docs, pagination: `size` is capped at 100.

# INFERRED: JSON keys of associate fields no BVNK page or capture shows.
ASSOCIATE_OWNERSHIP_PERCENTAGE_KEY = "ownershipPercentage"
DOCUMENT_INFO_EXPIRY_KEY = "expiryDate"

# A create refused as a duplicate. BVNK docs, API overview "Idempotency": a reused key
# generally gets 400 saying a request with that id already exists (customer endpoints may
# instead replay the first answer); a public capture of BVNK's sandbox: a second customer
# with the same externalReference gets 400 with `details.errors.externalReference`
# ["Customer with external reference: ... already exists"]. The emulator's
# BVNK_EMULATOR_REPLAY switch plays the replay (`replay`) or the refusal (`conflict`).
DUPLICATE_CREATE_FIELDS = ("externalReference", IDEMPOTENCY_HEADER, "")
DUPLICATE_MARKER = "already exists"


def is_duplicate_create(field_errors: dict[str, list[str]], message: str) -> bool:
    """Return whether a refused create says the customer (or the request) exists already."""
    for name in DUPLICATE_CREATE_FIELDS:
        texts = field_errors.get(name, []) if name else [message]
        if any(DUPLICATE_MARKER in str(text).lower() for text in texts):
            return True
    return False


# Wallets v2 for verified customers (BVNK docs, Beta: set-up-wallets, create-wallet,
# migrate-wallets-v1-to-v2, manage-wallet; webhook ledger-wallet-status-change-v-2).
# v2 endpoints take `Idempotency-Key` instead of X-Idempotency-Key (docs, "Idempotency").
V2_IDEMPOTENCY_HEADER = "Idempotency-Key"
PATH_WALLET_PROFILES = "/ledger/v2/wallets/profiles"
PATH_WALLETS = "/ledger/v2/wallets"
PATH_WALLET = "/ledger/v2/wallets/{reference}"
EVENT_WALLET_STATUS = "ledger:v2:wallet:status-change"
# Documented: INACTIVE until BVNK activates it, then ACTIVE; TERMINATED seen in a public
# capture of BVNK's sandbox. INFERRED: BLOCKED after the documented BLOCK action.
WALLET_STATUSES = {
    "INACTIVE": "Being activated",
    "ACTIVE": "Active",
    "BLOCKED": "Blocked",
    "TERMINATED": "Terminated",
}
# Crypto currencies BVNK documents for wallets (its currency list; US accounts get only
# these six). Offered by the bulk create on My customers; each customer's own profiles are
# still read before its wallet is asked for.
CRYPTO_CURRENCIES = ("USDC", "USDT", "BTC", "ETH", "SOL", "TRX")
# A replayed wallet create. BVNK docs, "Idempotency": a reused key gets 400 saying the
# request already exists (failures are not cached); its error list names
# BVNK:LEDGER:4004 "a creation request with the same idempotency key ... already exists".
# The first answer was lost, so the wallet exists: the portal adopts it (DECISION: the
# customer's one wallet at BVNK, in that currency and with the portal's name, that no
# other wallet row holds; anything else needs staff). The emulator's
# BVNK_EMULATOR_WALLET_REPLAY switch plays the refusal (`conflict`) or a replay (`replay`).
WALLET_DUPLICATE_CODE = "BVNK:LEDGER:4004"
# BVNK's error list: 4003 "Forbidden: missing capability, or the customer was rejected".
WALLET_FORBIDDEN_CODE = "BVNK:LEDGER:4003"


def is_duplicate_wallet(status: int | None, code: str, texts: list[str]) -> bool:
    """Return whether a refused wallet create says the request exists already."""
    if status != 400:
        return False
    return code == WALLET_DUPLICATE_CODE or any(DUPLICATE_MARKER in t.lower() for t in texts)


# Payment methods of fiat profiles (docs: create-wallet, set-up-wallets, payment-methods).
PAYMENT_METHODS = {
    "ACH": "ACH",
    "ACH_SAME_DAY": "Same-day ACH",
    "FEDWIRE": "Fedwire",
    "FEDNOW": "FedNow",
    "RTP": "Real-Time Payments",
    "SWIFT": "SWIFT",
    "FASTER_PAYMENT": "Faster Payments",
    "CHAPS": "CHAPS",
    "SEPA_CT": "SEPA transfer",
    "SEPA_INST": "SEPA Instant",
    "BOOK": "Book transfer",
}
