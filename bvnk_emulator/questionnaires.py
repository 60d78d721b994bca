"""Questionnaire definitions (company customers only) and answer checks.

BVNK documents neither the definition nor the answer shape, so both are inferred: they
follow Sumsub's questionnaire format: sections of items, each answer `{"value": ...}`
or `{"values": [...]}`.
"""

from __future__ import annotations

from typing import Any

Item = dict[str, Any]


def _options(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"value": value, "title": title} for value, title in pairs]


def _text(item_id: str, title: str, *, required: bool = True) -> Item:
    return {"id": item_id, "title": title, "type": "text", "required": required, "options": []}


def _boolean(item_id: str, title: str, *, required: bool = True) -> Item:
    return {"id": item_id, "title": title, "type": "boolean", "required": required, "options": []}


def _select(
    item_id: str, title: str, options: list[dict[str, str]], *, multi: bool = False
) -> Item:
    kind = "multiselect" if multi else "select"
    return {"id": item_id, "title": title, "type": kind, "required": True, "options": options}


_MARKETS = _options(
    ("US", "United States"),
    ("EU", "European Union"),
    ("UK", "United Kingdom"),
    ("LATAM", "Latin America"),
    ("APAC", "Asia Pacific"),
    ("OTHER", "Other"),
)


def _nature_of_business(extra: list[Item]) -> dict[str, Any]:
    return {
        "id": "natureOfBusiness",
        "title": "Nature of Business",
        "items": [
            _text("businessDescription", "Describe the business and its main products"),
            _select("targetMarkets", "Where are the company's customers?", _MARKETS, multi=True),
            _select(
                "customerBase",
                "Who are the company's customers?",
                _options(("B2B", "Businesses"), ("B2C", "Consumers"), ("BOTH", "Both")),
            ),
            _select(
                "monthlyTransactions",
                "Expected number of transactions per month",
                _options(
                    ("UP_TO_100", "Up to 100"),
                    ("UP_TO_1000", "101 to 1,000"),
                    ("UP_TO_10000", "1,001 to 10,000"),
                    ("OVER_10000", "More than 10,000"),
                ),
            ),
            *extra,
        ],
    }


def _document_requirements(extra: list[Item]) -> dict[str, Any]:
    return {
        "id": "documentRequirements",
        "title": "Document Requirements",
        "items": [
            _boolean("hasAmlPolicy", "Does the company have a written AML/CTF policy?"),
            _boolean("isRegulated", "Is the company licensed or registered with a regulator?"),
            _text("licenceDetails", "Regulator and licence number, if any", required=False),
            _text("complianceOfficer", "Name of the compliance officer", required=False),
            *extra,
        ],
    }


def _definition(code: str, title: str, business: list[Item], documents: list[Item]) -> Item:
    return {
        "code": code,
        "title": title,
        "sections": [_nature_of_business(business), _document_requirements(documents)],
    }


DEFINITIONS: dict[str, Item] = {
    definition["code"]: definition
    for definition in (
        _definition(
            "financialServicesQuestionnaireFull",
            "Financial services questionnaire",
            [
                _select(
                    "regulatedActivities",
                    "Which regulated activities does the company carry out?",
                    _options(
                        ("PAYMENTS", "Payment services"),
                        ("E_MONEY", "E-money issuance"),
                        ("LENDING", "Lending"),
                        ("INVESTMENT", "Investment services"),
                        ("FX", "Foreign exchange"),
                    ),
                    multi=True,
                )
            ],
            [_boolean("auditedAccounts", "Are the latest accounts audited?")],
        ),
        _definition(
            "amlCryptoComplianceQuestionnaireFull",
            "Digital assets AML questionnaire",
            [
                _select(
                    "custodyModel",
                    "Does the company hold customer assets?",
                    _options(
                        ("CUSTODIAL", "Custodial"),
                        ("NON_CUSTODIAL", "Non-custodial"),
                        ("BOTH", "Both"),
                    ),
                )
            ],
            [
                _boolean("travelRuleCompliant", "Does the company comply with the travel rule?"),
                _text("analyticsProvider", "Blockchain analytics provider", required=False),
            ],
        ),
        _definition(
            "gamblingQuestionnaireFull",
            "Gaming questionnaire",
            [_text("licenceJurisdiction", "In which jurisdictions is the company licensed?")],
            [_boolean("ageVerification", "Does the company verify the age of every player?")],
        ),
        _definition(
            "fintechsQuestionnaireFull",
            "Fintech questionnaire",
            [
                _select(
                    "productType",
                    "Main product",
                    _options(
                        ("WALLET", "Wallet"),
                        ("CARD_ISSUING", "Card issuing"),
                        ("REMITTANCE", "Remittance"),
                        ("PAYROLL", "Payroll"),
                        ("OTHER", "Other"),
                    ),
                )
            ],
            [_text("partnerBank", "Partner bank, if any", required=False)],
        ),
        _definition(
            "otherQuestionnaireFull",
            "General business questionnaire",
            [_text("sourceOfFunds", "Where do the company's funds come from?")],
            [],
        ),
    )
}


def _items(code: str) -> dict[tuple[str, str], Item]:
    return {
        (section["id"], item["id"]): item
        for section in DEFINITIONS[code]["sections"]
        for item in section["items"]
    }


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return None


def _check_answer(item: Item, answer: Any) -> str | None:
    """Return an error message for a malformed answer, or None."""
    if not isinstance(answer, dict) or not ({"value", "values"} & answer.keys()):
        return 'must be an object with "value" or "values"'
    allowed = {option["value"] for option in item["options"]}
    value = answer.get("value")
    if item["type"] == "multiselect":
        values = answer.get("values", [] if value is None else [value])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return '"values" must be a list of strings'
        unknown = [v for v in values if v not in allowed]
        return f"unknown option(s): {', '.join(unknown)}" if unknown else None
    if value is None:
        return None
    if item["type"] == "boolean":
        return None if _as_bool(value) is not None else "must be true or false"
    if not isinstance(value, str):
        return "must be a string"
    if item["type"] == "select" and value and value not in allowed:
        return f"unknown option: {value}"
    return None


def validate_submission(body: Any) -> dict[str, list[str]]:
    """Return field errors for a questionnaire submission body (empty when valid)."""
    errors: dict[str, list[str]] = {}
    if not isinstance(body, list) or not body:
        return {"questionnaires": ["must be a non-empty array"]}
    for index, entry in enumerate(body):
        path = f"questionnaires[{index}]"
        if not isinstance(entry, dict):
            errors[path] = ["must be an object"]
            continue
        code = entry.get("code")
        if code not in DEFINITIONS:
            errors[f"{path}.code"] = [f"Unknown questionnaire code: {code}"]
            continue
        sections = entry.get("sections")
        if not isinstance(sections, dict):
            errors[f"{path}.sections"] = ["must be an object keyed by section id"]
            continue
        items = _items(code)
        section_ids = {section_id for section_id, _ in items}
        for section_id, section in sections.items():
            section_path = f"{path}.sections.{section_id}"
            if section_id not in section_ids:
                errors[section_path] = [f"Unknown section: {section_id}"]
                continue
            answers = section.get("items") if isinstance(section, dict) else None
            if not isinstance(answers, dict):
                errors[f"{section_path}.items"] = ["must be an object keyed by item id"]
                continue
            for item_id, answer in answers.items():
                item = items.get((section_id, item_id))
                item_path = f"{section_path}.items.{item_id}"
                if item is None:
                    errors[item_path] = [f"Unknown item: {item_id}"]
                elif message := _check_answer(item, answer):
                    errors[item_path] = [message]
    return errors


def missing_answers(code: str, sections: dict[str, Any]) -> list[str]:
    """Return `sectionId.itemId` of every required item left unanswered."""
    missing = []
    for (section_id, item_id), item in _items(code).items():
        if not item["required"]:
            continue
        answer = (sections.get(section_id) or {}).get("items", {}).get(item_id) or {}
        value = answer.get("values") if item["type"] == "multiselect" else answer.get("value")
        if item["type"] == "multiselect" and value is None and answer.get("value"):
            value = [answer["value"]]
        empty = value is None or (isinstance(value, str | list) and not value)
        if empty:
            missing.append(f"{section_id}.{item_id}")
    return missing
