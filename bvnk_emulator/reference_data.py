"""Fixed reference data: countries, states, enums, industries, volumes, agreements."""

from __future__ import annotations

# ISO 3166-1 alpha-2 codes with short English names (BVNK adds names to addresses).
_COUNTRY_LINES = """
AD Andorra
AE United Arab Emirates
AF Afghanistan
AG Antigua and Barbuda
AI Anguilla
AL Albania
AM Armenia
AO Angola
AQ Antarctica
AR Argentina
AS American Samoa
AT Austria
AU Australia
AW Aruba
AX Åland Islands
AZ Azerbaijan
BA Bosnia and Herzegovina
BB Barbados
BD Bangladesh
BE Belgium
BF Burkina Faso
BG Bulgaria
BH Bahrain
BI Burundi
BJ Benin
BL Saint Barthélemy
BM Bermuda
BN Brunei Darussalam
BO Bolivia
BQ Bonaire, Sint Eustatius and Saba
BR Brazil
BS Bahamas
BT Bhutan
BV Bouvet Island
BW Botswana
BY Belarus
BZ Belize
CA Canada
CC Cocos (Keeling) Islands
CD Congo (Democratic Republic)
CF Central African Republic
CG Congo
CH Switzerland
CI Côte d'Ivoire
CK Cook Islands
CL Chile
CM Cameroon
CN China
CO Colombia
CR Costa Rica
CU Cuba
CV Cabo Verde
CW Curaçao
CX Christmas Island
CY Cyprus
CZ Czechia
DE Germany
DJ Djibouti
DK Denmark
DM Dominica
DO Dominican Republic
DZ Algeria
EC Ecuador
EE Estonia
EG Egypt
EH Western Sahara
ER Eritrea
ES Spain
ET Ethiopia
FI Finland
FJ Fiji
FK Falkland Islands (Malvinas)
FM Micronesia
FO Faroe Islands
FR France
GA Gabon
GB United Kingdom
GD Grenada
GE Georgia
GF French Guiana
GG Guernsey
GH Ghana
GI Gibraltar
GL Greenland
GM Gambia
GN Guinea
GP Guadeloupe
GQ Equatorial Guinea
GR Greece
GS South Georgia and the South Sandwich Islands
GT Guatemala
GU Guam
GW Guinea-Bissau
GY Guyana
HK Hong Kong
HM Heard Island and McDonald Islands
HN Honduras
HR Croatia
HT Haiti
HU Hungary
ID Indonesia
IE Ireland
IL Israel
IM Isle of Man
IN India
IO British Indian Ocean Territory
IQ Iraq
IR Iran
IS Iceland
IT Italy
JE Jersey
JM Jamaica
JO Jordan
JP Japan
KE Kenya
KG Kyrgyzstan
KH Cambodia
KI Kiribati
KM Comoros
KN Saint Kitts and Nevis
KP North Korea
KR South Korea
KW Kuwait
KY Cayman Islands
KZ Kazakhstan
LA Laos
LB Lebanon
LC Saint Lucia
LI Liechtenstein
LK Sri Lanka
LR Liberia
LS Lesotho
LT Lithuania
LU Luxembourg
LV Latvia
LY Libya
MA Morocco
MC Monaco
MD Moldova
ME Montenegro
MF Saint Martin (French part)
MG Madagascar
MH Marshall Islands
MK North Macedonia
ML Mali
MM Myanmar
MN Mongolia
MO Macao
MP Northern Mariana Islands
MQ Martinique
MR Mauritania
MS Montserrat
MT Malta
MU Mauritius
MV Maldives
MW Malawi
MX Mexico
MY Malaysia
MZ Mozambique
NA Namibia
NC New Caledonia
NE Niger
NF Norfolk Island
NG Nigeria
NI Nicaragua
NL Netherlands
NO Norway
NP Nepal
NR Nauru
NU Niue
NZ New Zealand
OM Oman
PA Panama
PE Peru
PF French Polynesia
PG Papua New Guinea
PH Philippines
PK Pakistan
PL Poland
PM Saint Pierre and Miquelon
PN Pitcairn
PR Puerto Rico
PS Palestine, State of
PT Portugal
PW Palau
PY Paraguay
QA Qatar
RE Réunion
RO Romania
RS Serbia
RU Russia
RW Rwanda
SA Saudi Arabia
SB Solomon Islands
SC Seychelles
SD Sudan
SE Sweden
SG Singapore
SH Saint Helena, Ascension and Tristan da Cunha
SI Slovenia
SJ Svalbard and Jan Mayen
SK Slovakia
SL Sierra Leone
SM San Marino
SN Senegal
SO Somalia
SR Suriname
SS South Sudan
ST Sao Tome and Principe
SV El Salvador
SX Sint Maarten (Dutch part)
SY Syria
SZ Eswatini
TC Turks and Caicos Islands
TD Chad
TF French Southern Territories
TG Togo
TH Thailand
TJ Tajikistan
TK Tokelau
TL Timor-Leste
TM Turkmenistan
TN Tunisia
TO Tonga
TR Türkiye
TT Trinidad and Tobago
TV Tuvalu
TW Taiwan
TZ Tanzania
UA Ukraine
UG Uganda
UM United States Minor Outlying Islands
US United States
UY Uruguay
UZ Uzbekistan
VA Holy See
VC Saint Vincent and the Grenadines
VE Venezuela
VG Virgin Islands (British)
VI Virgin Islands (U.S.)
VN Viet Nam
VU Vanuatu
WF Wallis and Futuna
WS Samoa
YE Yemen
YT Mayotte
ZA South Africa
ZM Zambia
ZW Zimbabwe
"""

COUNTRIES: dict[str, str] = dict(line.split(" ", 1) for line in _COUNTRY_LINES.strip().splitlines())

US_STATES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa",
    "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi",
    "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire",
    "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
    "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "DC": "District of Columbia",
    "AS": "American Samoa", "GU": "Guam", "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico", "VI": "U.S. Virgin Islands",
}  # fmt: skip

CUSTOMER_TYPES = ("COMPANY", "INDIVIDUAL")
CUSTOMER_STATUSES = (
    "INFO_REQUIRED",
    "PENDING",
    "VERIFIED",
    "ACTIONS_REQUIRED",
    "REJECTED",
    "TERMINATED",
)
# BVNK documents the first five; OTHER is the portal's own.
ENTITY_TYPES = ("LLC", "CORPORATION", "PARTNERSHIP", "SOLE_PROPRIETOR", "TRUST", "OTHER")
# INFERRED: the `titles` for beneficial owner, controlling person and signer.
ASSOCIATE_TITLES = ("UBO", "DIRECTOR", "REPRESENTATIVE")
RISK_SCORES = ("LOW", "MEDIUM", "HIGH")
USE_CASES = (
    "STABLECOIN_PAYOUTS",
    "FIAT",
    "CRYPTO",
    "EMBEDDED_FIAT_ACCOUNTS",
    "EMBEDDED_STABLECOIN_WALLETS",
)
SESSION_STATUSES = ("PENDING", "SIGNED", "DECLINED")

# The v1 lists of the individual create; v2-only additions are refused.
EMPLOYMENT_STATUSES = ("SELF_EMPLOYED", "SALARIED", "UNEMPLOYED", "RETIRED", "NOT_PROVIDED")
SOURCES_OF_FUNDS = (
    "SALARY",
    "PENSION",
    "SAVINGS",
    "SELF_EMPLOYMENT",
    "CRYPTO_TRADING",
    "GAMBLING",
    "REAL_ESTATE",
)
PEP_STATUSES = (
    "NOT_PEP",
    "FORMER_PEP_2_YEARS",
    "FORMER_PEP_OLDER",
    "DOMESTIC_PEP",
    "FOREIGN_PEP",
    "CLOSE_ASSOCIATES",
    "FAMILY_MEMBERS",
)
INTENDED_USES = (
    "TRANSFERS_OWN_WALLET",
    "TRANSFERS_FAMILY_FRIENDS",
    "INVESTMENTS",
    "GOODS_SERVICES",
    "DONATIONS",
)
YEARLY_INCOMES = (
    "INCOME_0_TO_50K",
    "INCOME_50K_TO_100K",
    "INCOME_100K_TO_250K",
    "INCOME_250K_TO_500K",
    "INCOME_500K_TO_750K",
    "INCOME_750K_TO_1M",
    "INCOME_ABOVE_1M",
)
# Appendix A.
_SECTORS = """
    INVESTMENT HEDGE_FUND MONEY_SERVICE_BUSINESS STO_ISSUER PRECIOUS_METALS NON_PROFIT
    REGISTERED_INVESTMENT_ADVISOR AGRICULTURE_FORESTRY_FISHING_HUNTING MINING UTILITIES
    CONSTRUCTION MANUFACTURING WHOLESALE_TRADE RETAIL_TRADE TRANSPORTATION_WAREHOUSING
    INFORMATION FINANCE_INSURANCE REAL_ESTATE_RENTAL_LEASING
    PROFESSIONAL_SCIENTIFIC_TECHNICAL_SERVICES MANAGEMENT_OF_COMPANIES_ENTERPRISES
    ADMINISTRATIVE_SUPPORT_WASTE_MANAGEMENT_REMEDIATION_SERVICES EDUCATIONAL_SERVICES
    HEALTH_CARE_SOCIAL_ASSISTANCE ARTS_ENTERTAINMENT_RECREATION ACCOMMODATION_FOOD_SERVICES
    OTHER_SERVICES PUBLIC_ADMINISTRATION NOT_CLASSIFIED ADULT_ENTERTAINMENT AUCTIONS
    AUTOMOBILES BLOCKCHAIN CRYPTO DRUGS EXPORT_IMPORT E_COMMERCE FINANCIAL_INSTITUTION
    GAMBLING INSURANCE MARKET_MAKER SHELL_BANK TRAVEL_TRANSPORT WEAPONS
    """
INDUSTRY_SECTORS = tuple(_SECTORS.split())
CURRENCIES = ("USD", "EUR")

# Industries with their sub-industries, the shape of BVNK's `GET /platform/v1/accounts/
# industries` (API reference page getindustries: "a definitive list of industries and
# sub-industries", sub-industries under `children`). BVNK's own list was not readable:
# the two references from BVNK's create examples are placed as the docs place them
# (30ea15fc... is the Food/Beverages sub-industry); the others are invented. A
# sub-industry's third element picks the company questionnaire; an industry without
# children is selectable itself (INFERRED).
Industry = tuple[str, str, str, tuple[tuple[str, str, str], ...]]
INDUSTRIES: tuple[Industry, ...] = (
    ("0f3a5c10-06d8-11ef-9d2b-027612b7f6b5", "Financial services", "", (
        ("1e4b6d21-06d8-11ef-9d2b-027612b7f6b5", "Payment services", "financialServices"),
        ("9a0f6e32-06fa-11ef-ae42-02d3d923cf2b", "Fintech apps", "fintech"),
    )),
    ("2c5d7e32-06d8-11ef-9d2b-027612b7f6b5", "Digital assets", "", (
        ("7d1c2a10-06fa-11ef-8a7e-02d3d923cf2b", "Crypto exchanges and wallets", "crypto"),
    )),
    ("3d6e8f43-06d8-11ef-9d2b-027612b7f6b5", "Gaming", "", (
        ("8b4e5f21-06fa-11ef-9c1d-02d3d923cf2b", "Online gaming and gambling", "gaming"),
    )),
    ("4e7f9054-06d8-11ef-9d2b-027612b7f6b5", "Technology", "", (
        ("56e65ebc-06fa-11ef-bbf8-02d3d923cf2b", "Software", "other"),
    )),
    ("5f80a165-06d8-11ef-9d2b-027612b7f6b5", "Retail and consumer goods", "", (
        ("30ea15fc-06d8-11ef-b6e1-027612b7f6b5", "Food/Beverages", "other"),
        ("a61b7d43-06fa-11ef-b3f5-02d3d923cf2b", "E-commerce", "other"),
    )),
    ("6091b276-06d8-11ef-9d2b-027612b7f6b5", "Professional services", "", (
        ("b7c28e54-06fa-11ef-85a6-02d3d923cf2b", "Consulting", "other"),
        ("c8d39f65-06fa-11ef-9b07-02d3d923cf2b", "Travel agencies", "other"),
    )),
    ("d9e4a076-06fa-11ef-a1c8-02d3d923cf2b", "Other", "other", ()),
)  # fmt: skip
QUESTIONNAIRE_BY_INDUSTRY_KIND = {
    "financialServices": "financialServicesQuestionnaireFull",
    "crypto": "amlCryptoComplianceQuestionnaireFull",
    "gaming": "gamblingQuestionnaireFull",
    "fintech": "fintechsQuestionnaireFull",
    "other": "otherQuestionnaireFull",
}
MONTHLY_VOLUMES: tuple[tuple[str, str], ...] = (
    ("ef779c41-547e-11ef-8b9c-027612b7f6b5", "Up to 50,000 USD"),
    ("a4318a0d-5316-11ef-9887-0289b1b0d83d", "50,000 - 250,000 USD"),
    ("b5429b1e-5316-11ef-9887-0289b1b0d83d", "250,000 - 1,000,000 USD"),
    ("c653ac2f-5316-11ef-9887-0289b1b0d83d", "1,000,000 - 5,000,000 USD"),
    ("d764bd30-5316-11ef-9887-0289b1b0d83d", "More than 5,000,000 USD"),
)
# What `industryReference` may take: every sub-industry, and an industry without children.
SELECTABLE_INDUSTRIES: dict[str, tuple[str, str]] = {
    reference: (name, kind)
    for industry in INDUSTRIES
    for reference, name, kind in (industry[3] or (industry[:3],))
}
INDUSTRY_REFERENCES = set(SELECTABLE_INDUSTRIES)
VOLUME_REFERENCES = {reference for reference, _ in MONTHLY_VOLUMES}


def questionnaire_code_for(industry_reference: str) -> str:
    """Return the questionnaire a company in this industry must answer."""
    _, kind = SELECTABLE_INDUSTRIES.get(industry_reference, ("", "other"))
    return QUESTIONNAIRE_BY_INDUSTRY_KIND[kind]


def industries_body(shape: str) -> list[dict[str, object]]:
    """The industry list as BVNK documents it (`nested`) or as a flat list (`flat`)."""
    if shape == "flat":
        return [{"reference": r, "name": n} for r, (n, _) in SELECTABLE_INDUSTRIES.items()]
    return [
        {
            "reference": reference,
            "name": name,
            "children": [{"reference": r, "name": n} for r, n, _ in children],
        }
        for reference, name, _, children in INDUSTRIES
    ]


_PRIVACY = {
    "privacyPolicyName": "End customer Privacy Policy",
    "privacyPolicyDescription": "How BVNK processes the personal data of end customers",
    "privacyPolicyUrl": "https://help.bvnk.com/hc/en-us/articles/7662076884882-Privacy-Policy",
}
AGREEMENT_US = {
    "name": "EMBEDDED_PARTNER_PLATFORM_CUSTOMERS_US",
    "displayName": "Embedded US Partner Platform Customers Agreement",
    "description": "Embedded US Partner Platform Customers Agreement",
    "url": "https://help.bvnk.com/hc/en-us/sections/27816998470930-BVNK-US-Partner-Platform-Customers",
    **_PRIVACY,
}
AGREEMENT_EU = {
    "name": "EMBEDDED_PARTNER_PLATFORM_CUSTOMERS_EU",
    "displayName": "Embedded EU Partner Platform Customers Agreement",
    "description": "Embedded EU Partner Platform Customers Agreement",
    "url": "https://help.bvnk.com/hc/en-us/sections/BVNK-EU-Partner-Platform-Customers",
    **_PRIVACY,
}


def agreement_for(country_code: str) -> dict[str, str]:
    """Return the agreement template that applies in this country."""
    return dict(AGREEMENT_US if country_code == "US" else AGREEMENT_EU)


# Document types as BVNK's docs spell them. Every listed spelling is accepted and mapped to one
# canonical kind so requirements can be matched.
TYPE_ALIASES = {
    "DRIVERS": "DRIVER_LICENSE",
    "DRIVERS_LICENSE": "DRIVER_LICENSE",
    "UTILITY_BILL": "PROOF_OF_RESIDENCE",
    "BANK_STATEMENT": "PROOF_OF_RESIDENCE",
}
COMPANY_SUBTYPES = (
    "INCORPORATION_CERT",
    "INCORPORATION_ARTICLES",
    "DIRECTORS_REGISTRY",
    "PROOF_OF_ADDRESS",
    "SHAREHOLDER_REGISTRY",
    "STATE_REGISTRY",
    "TRUST_AGREEMENT",
    "INFORMATION_STATEMENT",
    "SOURCE_OF_WEALTH",
    "AML_POLICY",
)
SIDES = ("FRONT_SIDE", "BACK_SIDE")
# Canonical kind -> allowed subtypes; None in the tuple means the subtype may be left out.
DOCUMENT_SUBTYPES: dict[str, tuple[str | None, ...]] = {
    "COMPANY_DOC": COMPANY_SUBTYPES,
    "POWER_OF_ATTORNEY": ("POWER_OF_ATTORNEY", None),
    "PASSPORT": (*SIDES, None),
    "ID_CARD": SIDES,
    "DRIVER_LICENSE": SIDES,
    "RESIDENCE_PERMIT": SIDES,
    "SELFIE": (*SIDES, None),
    "PROOF_OF_RESIDENCE": (*SIDES, None),
}
DOCUMENT_TYPES = (*DOCUMENT_SUBTYPES, *TYPE_ALIASES)
IDENTITY_KINDS = ("PASSPORT", "ID_CARD", "DRIVER_LICENSE")
TWO_SIDED_KINDS = ("ID_CARD", "DRIVER_LICENSE", "RESIDENCE_PERMIT")
COMPANY_REQUIRED_SUBTYPES = (
    "INCORPORATION_CERT",
    "INCORPORATION_ARTICLES",
    "DIRECTORS_REGISTRY",
    "PROOF_OF_ADDRESS",
)


def canonical_document_type(document_type: str) -> str:
    """Map any accepted spelling of a document type to its canonical kind."""
    return TYPE_ALIASES.get(document_type, document_type)
