"""BVNK wire values in one place.

Every value here is copied from ../shared/bvnk-api.md. Values marked INFERRED are the
project's decisions on open questions (the section or decision number is given), so a
confirmation from BVNK changes this file and nothing else.
"""

from __future__ import annotations

from typing import Any

API_PREFIX = "/platform/v1"
IDEMPOTENCY_HEADER = "X-Idempotency-Key"  # v1 name (2.10); v2 uses Idempotency-Key.

CUSTOMER_TYPES = {"COMPANY": "Company", "INDIVIDUAL": "Individual"}

# Section 5: the status enum observed live.
CUSTOMER_STATUSES = {
    "INFO_REQUIRED": "Info required",
    "PENDING": "Pending review",
    "VERIFIED": "Verified",
    "ACTIONS_REQUIRED": "Actions required",
    "REJECTED": "Rejected",
    "TERMINATED": "Terminated",
}

# INFERRED, decision 5 / Q1.
ENTITY_TYPES = {
    "LLC": "Limited liability company",
    "CORPORATION": "Corporation",
    "PARTNERSHIP": "Partnership",
    "SOLE_PROPRIETOR": "Sole proprietor",
    "TRUST": "Trust",
    "OTHER": "Other",
}

# INFERRED, decision 4 / Q2: the portal's associate roles and the `titles` sent for each.
ASSOCIATE_ROLE_TITLES = {
    "BENEFICIAL_OWNER": "UBO",
    "CONTROLLING_PERSON": "DIRECTOR",
    "SIGNER": "REPRESENTATIVE",
}

# Section 3.2: use cases seen for agreement sessions.
USE_CASES = {
    "EMBEDDED_FIAT_ACCOUNTS": "Embedded fiat accounts",
    "EMBEDDED_STABLECOIN_WALLETS": "Embedded stablecoin wallets",
    "STABLECOIN_PAYOUTS": "Stablecoin payouts",
}
AGREEMENT_SESSION_STATUSES = {"PENDING": "Pending", "SIGNED": "Signed", "DECLINED": "Declined"}

# Section 2.4: the individual's customer due diligence (`cdd`) answers.
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
# Appendix A.
INDUSTRY_SECTORS = {
    code: code.replace("_", " ").capitalize()
    # A split string keeps Appendix A's 43 codes paste-comparable with the contract.
    for code in (  # noqa: SIM905
        "INVESTMENT HEDGE_FUND MONEY_SERVICE_BUSINESS STO_ISSUER PRECIOUS_METALS NON_PROFIT "
        "REGISTERED_INVESTMENT_ADVISOR AGRICULTURE_FORESTRY_FISHING_HUNTING MINING UTILITIES "
        "CONSTRUCTION MANUFACTURING WHOLESALE_TRADE RETAIL_TRADE TRANSPORTATION_WAREHOUSING "
        "INFORMATION FINANCE_INSURANCE REAL_ESTATE_RENTAL_LEASING "
        "PROFESSIONAL_SCIENTIFIC_TECHNICAL_SERVICES MANAGEMENT_OF_COMPANIES_ENTERPRISES "
        "ADMINISTRATIVE_SUPPORT_WASTE_MANAGEMENT_REMEDIATION_SERVICES EDUCATIONAL_SERVICES "
        "HEALTH_CARE_SOCIAL_ASSISTANCE ARTS_ENTERTAINMENT_RECREATION ACCOMMODATION_FOOD_SERVICES "
        "OTHER_SERVICES PUBLIC_ADMINISTRATION NOT_CLASSIFIED ADULT_ENTERTAINMENT AUCTIONS "
        "AUTOMOBILES BLOCKCHAIN CRYPTO DRUGS EXPORT_IMPORT E_COMMERCE FINANCIAL_INSTITUTION "
        "GAMBLING INSURANCE MARKET_MAKER SHELL_BANK TRAVEL_TRANSPORT WEAPONS"
    ).split()
}

# Section 4.2: document kinds as (type, subType). Person documents spelled as in v1 (S22).
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

# Decision 10: webhook events. The three status-change names describe one change.
EVENT_STATUS_CHANGE = "bvnk:platform:customer:status-change"
EVENT_STATUS_CHANGE_ALIASES = (
    EVENT_STATUS_CHANGE,
    "bvnk:customers:status-change",
    "platform:accounts:customer:status-change",
)
EVENT_CUSTOMER_UPDATE = "bvnk:platform:customer:update"
EVENT_AGREEMENT_SESSION = "bvnk:platform:customer:agreement-session-status-change"
EVENT_DOCUMENT_STATUS = "bvnk:platform:customer:document-status-change"


def questionnaire_codes(info_required: dict[str, Any] | None) -> list[str]:
    """Return the questionnaire codes BVNK asks for, in whichever shape it sent them.

    Decision 2 / Q4: `questionnaireCodes` (list of codes) or `questionnaires` (list of
    codes or of objects with a `code`).
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


# Paths of the v1 endpoints the client calls (sections 2.1, 3.1, 4.1, 4.5). `{reference}` is
# filled in, URL-quoted, by the client.
PATH_AGREEMENT_SESSIONS = f"{API_PREFIX}/customers/agreement/sessions"
PATH_AGREEMENT_SESSION = f"{API_PREFIX}/customers/agreement/sessions/{{reference}}"
PATH_CUSTOMERS = f"{API_PREFIX}/customers"
PATH_CUSTOMER = f"{API_PREFIX}/customers/{{reference}}"
PATH_CUSTOMER_DOCUMENTS = f"{API_PREFIX}/customers/{{reference}}/documents"
PATH_CUSTOMER_QUESTIONNAIRES = f"{API_PREFIX}/customers/{{reference}}/questionnaires"
PATH_QUESTIONNAIRE_DEFINITIONS = f"{API_PREFIX}/customers/questionnaire/definitions"
# INFERRED, decision 5 / Q14: the reference-list paths are unconfirmed.
PATH_INDUSTRIES = f"{API_PREFIX}/customers/industries"
PATH_MONTHLY_EXPECTED_VOLUMES = f"{API_PREFIX}/customers/monthly-expected-volumes"

MAX_PAGE_SIZE = 100  # Section 2.8: BVNK caps `size` at 100.

# INFERRED, Q2: JSON keys of associate fields no source shows.
ASSOCIATE_OWNERSHIP_PERCENTAGE_KEY = "ownershipPercentage"
DOCUMENT_INFO_EXPIRY_KEY = "expiryDate"
