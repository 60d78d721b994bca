"""BVNK's questionnaires (company customers only): their definitions, cached, as a form.

BVNK names the questionnaires a customer needs in `infoRequired`; their definitions come
from `client.questionnaire_definitions` and change rarely, so each is cached for an hour
(a failed fetch is remembered for a minute, so the page stays quick while BVNK is down).
BVNK does not document the definition shape (it is inferred), hence the tolerant parsing
of the raw JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.cache import cache

from .bvnk.errors import BvnkError
from .bvnk.types import QuestionnaireAnswers, QuestionnaireDefinition, QuestionnaireItem
from .bvnk_calls import bvnk_client

logger = logging.getLogger(__name__)

CACHE_SECONDS = 3600
RETRY_SECONDS = 60


def _key(code: str) -> str:
    return f"bvnk:questionnaire:{code}"


def definitions(codes: Iterable[str]) -> tuple[list[QuestionnaireDefinition], list[str]]:
    """Return the definitions of `codes` (cached) and the codes that could not be loaded."""
    codes = list(dict.fromkeys(code for code in codes if code))
    raw: dict[str, dict[str, Any]] = {}
    missing = []
    for code in codes:
        cached = cache.get(_key(code))
        if cached is not None:
            raw[code] = cached
        elif not cache.get(f"{_key(code)}:down"):
            missing.append(code)
    if missing:
        try:
            with bvnk_client(triggered_by="page: questionnaire definitions") as client:
                fetched = client.questionnaire_definitions(missing)
        except BvnkError as error:
            logger.warning("Questionnaire definitions unavailable: %s", error.summary())
            for code in missing:
                cache.set(f"{_key(code)}:down", True, RETRY_SECONDS)
        else:
            for definition in fetched:
                if definition.code in missing:
                    cache.set(_key(definition.code), definition.raw, CACHE_SECONDS)
                    raw[definition.code] = definition.raw
    loaded = [QuestionnaireDefinition.from_wire(raw[code]) for code in codes if code in raw]
    return loaded, [code for code in codes if code not in raw]


@dataclass(frozen=True)
class Question:
    """Where a form field's answer goes: the questionnaire, section and item ids."""

    code: str
    section: str
    item: QuestionnaireItem


def _raw_items(definition: QuestionnaireDefinition) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(section id, section title, raw item) in order, from the raw definition."""
    for section in definition.raw.get("sections") or []:
        if not isinstance(section, dict):
            continue
        section_id = str(section.get("id") or section.get("code") or section.get("key") or "")
        title = str(section.get("title") or section.get("name") or section_id)
        items = section.get("items") if "items" in section else section.get("questions")
        for item in items or []:
            if isinstance(item, dict):
                yield section_id, title, item


def _option_labels(raw_item: dict[str, Any]) -> dict[str, str]:
    labels = {}
    for option in raw_item.get("options") or []:
        if isinstance(option, dict):
            value = option.get("value") or option.get("code") or option.get("id")
            if value is not None:
                labels[str(value)] = str(option.get("title") or option.get("label") or value)
        elif option is not None:
            labels[str(option)] = str(option)
    return labels


def _field(item: QuestionnaireItem, labels: dict[str, str]) -> forms.Field:
    common: dict[str, Any] = {"label": item.title or item.id, "required": item.required}
    choices = [(value, labels.get(value, value)) for value in item.options]
    kind = item.type.lower()
    if kind in ("select", "single_select", "radio") and choices:
        return forms.ChoiceField(choices=[("", "Choose…"), *choices], **common)
    if kind in ("multiselect", "multi_select", "checkbox") and choices:
        return forms.MultipleChoiceField(
            choices=choices, widget=forms.CheckboxSelectMultiple, **common
        )
    if kind in ("boolean", "bool", "yesno"):
        # A required yes/no question must accept "No", which a checkbox cannot say.
        return forms.TypedChoiceField(
            choices=[("true", "Yes"), ("false", "No")],
            coerce=lambda value: value == "true",
            widget=forms.RadioSelect,
            **common,
        )
    return forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), **common)


class QuestionnaireForm(forms.Form):
    """One field per question of the given definitions, grouped by questionnaire and section."""

    def __init__(
        self, *args: Any, definitions: Sequence[QuestionnaireDefinition], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.definitions = list(definitions)
        self.questions: dict[str, Question] = {}
        # [(definition, [(section title, [field names])])] for the template.
        self.layout: list[tuple[QuestionnaireDefinition, list[tuple[str, list[str]]]]] = []
        for d_index, definition in enumerate(self.definitions):
            sections: dict[str, tuple[str, list[str]]] = {}
            for i_index, (section_id, title, raw_item) in enumerate(_raw_items(definition)):
                item = QuestionnaireItem.from_wire(raw_item)
                if not item.id:
                    continue
                name = f"q{d_index}_{i_index}"
                self.fields[name] = _field(item, _option_labels(raw_item))
                self.questions[name] = Question(definition.code, section_id, item)
                sections.setdefault(section_id, (title, []))[1].append(name)
            self.layout.append((definition, list(sections.values())))

    def groups(self) -> list[tuple[QuestionnaireDefinition, list[tuple[str, list[Any]]]]]:
        """The layout with bound fields, for the template."""
        return [
            (definition, [(title, [self[name] for name in names]) for title, names in sections])
            for definition, sections in self.layout
        ]

    def answers(self) -> list[QuestionnaireAnswers]:
        """The valid form's answers, one QuestionnaireAnswers per questionnaire."""
        by_code: dict[str, dict[str, dict[str, str | bool | Sequence[str]]]] = {}
        for name, question in self.questions.items():
            value: str | bool | Sequence[str] | None = self.cleaned_data.get(name)
            if value is None or value == "" or value == []:
                continue
            sections = by_code.setdefault(question.code, {})
            sections.setdefault(question.section, {})[question.item.id] = value
        return [
            QuestionnaireAnswers(code=definition.code, sections=by_code[definition.code])
            for definition in self.definitions
            if definition.code in by_code
        ]
