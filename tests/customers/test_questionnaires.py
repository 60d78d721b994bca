"""Answering BVNK's questionnaires: definitions (cached), the form, submission via the pipeline."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from bvnk_emulator.questionnaires import DEFINITIONS
from customers import questionnaires, services
from customers.bvnk.types import QuestionnaireDefinition
from customers.models import BvnkCall, BvnkOperation, Customer, StatusChange
from tests.conftest import make_company

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

CODE = "financialServicesQuestionnaireFull"


@pytest.fixture
def cached_definitions() -> None:
    for code, definition in DEFINITIONS.items():
        cache.set(questionnaires._key(code), definition)


@pytest.fixture
def asked() -> Customer:
    customer = make_company(bvnk_reference="ref-q", info_required={"questionnaireCodes": [CODE]})
    for status in ("SUBMITTING", "INFO_REQUIRED"):
        services.customer_change_status(customer, status, source=StatusChange.Source.WEBHOOK)
    return customer


def form_for(data=None) -> questionnaires.QuestionnaireForm:
    definition = QuestionnaireDefinition.from_wire(DEFINITIONS[CODE])
    return questionnaires.QuestionnaireForm(data, definitions=[definition])


def test_the_form_has_a_field_per_question_of_the_right_kind() -> None:
    form = form_for()
    kinds = {
        question.item.id: type(form.fields[name]).__name__
        for name, question in form.questions.items()
    }
    assert kinds["businessDescription"] == "CharField"
    assert kinds["customerBase"] == "ChoiceField"
    assert kinds["targetMarkets"] == "MultipleChoiceField"
    assert kinds["hasAmlPolicy"] == "TypedChoiceField"
    required = {q.item.id: form.fields[n].required for n, q in form.questions.items()}
    assert required["businessDescription"] and not required["licenceDetails"]
    ((_, sections),) = form.groups()
    assert [title for title, _ in sections] == ["Nature of Business", "Document Requirements"]
    base = next(name for name, q in form.questions.items() if q.item.id == "customerBase")
    assert dict(form.fields[base].choices)["B2B"] == "Businesses"


def valid_data(form: questionnaires.QuestionnaireForm) -> dict[str, object]:
    data: dict[str, object] = {}
    for name, question in form.questions.items():
        field = form.fields[name]
        if not field.required:
            continue
        kind = type(field).__name__
        if kind == "MultipleChoiceField":
            data[name] = [question.item.options[0], question.item.options[1]]
        elif kind == "TypedChoiceField":
            data[name] = "false"
        elif kind == "ChoiceField":
            data[name] = question.item.options[0]
        else:
            data[name] = "Payments for small shops"
    return data


def test_answers_are_grouped_by_questionnaire_and_section() -> None:
    form = form_for(valid_data(form_for()))
    assert form.is_valid(), form.errors
    (answers,) = form.answers()
    assert answers.code == CODE
    nature = answers.sections["natureOfBusiness"]
    assert nature["businessDescription"] == "Payments for small shops"
    assert nature["targetMarkets"] == ["US", "EU"]
    documents = answers.sections["documentRequirements"]
    assert documents["hasAmlPolicy"] is False  # a "No" is an answer
    assert "licenceDetails" not in documents  # optional and empty: not sent


def test_a_missing_required_answer_is_an_error() -> None:
    data = valid_data(form_for())
    name = next(n for n, q in form_for().questions.items() if q.item.id == "hasAmlPolicy")
    del data[name]
    form = form_for(data)
    assert not form.is_valid() and name in form.errors


def test_the_page_submits_through_the_pipeline(client, agent, asked, cached_definitions):
    client.force_login(agent)
    url = reverse("customers:questionnaire", args=[asked.pk])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Financial services questionnaire" in html and "Nature of Business" in html
    form = page.context["form"]
    response = client.post(url, valid_data(form))
    assert response.status_code == 302
    operation = BvnkOperation.objects.get(customer=asked)
    assert operation.kind == BvnkOperation.Kind.SUBMIT_QUESTIONNAIRE
    (answers,) = operation.payload["answers"]
    assert answers["code"] == CODE
    assert answers["sections"]["documentRequirements"]["hasAmlPolicy"] is False
    assert not BvnkCall.objects.exists()  # the definitions came from the cache
    html = client.get(reverse("customers:detail", args=[asked.pk])).content.decode()
    assert "Answers sent; BVNK has not confirmed them yet." in html and "Answer again" in html


def test_an_invalid_post_shows_the_errors(client, agent, asked, cached_definitions) -> None:
    client.force_login(agent)
    response = client.post(reverse("customers:questionnaire", args=[asked.pk]), {})
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    assert not BvnkOperation.objects.exists()


def test_no_questionnaire_asked_goes_back(client, agent) -> None:
    customer = make_company()
    client.force_login(agent)
    response = client.get(reverse("customers:questionnaire", args=[customer.pk]))
    assert response.status_code == 302


def test_bvnk_down_is_remembered_for_a_minute(settings, asked) -> None:
    settings.BVNK_BASE_URL = "http://127.0.0.1:9"
    assert questionnaires.definitions([CODE]) == ([], [CODE])
    calls = BvnkCall.objects.count()
    assert questionnaires.definitions([CODE]) == ([], [CODE])
    assert BvnkCall.objects.count() == calls  # not asked again


@pytest.mark.emulator
def test_definitions_come_from_bvnk_and_are_cached(bvnk_emulator) -> None:
    loaded, missing = questionnaires.definitions([CODE, "gamblingQuestionnaireFull"])
    assert [d.code for d in loaded] == [CODE, "gamblingQuestionnaireFull"] and missing == []
    assert BvnkCall.objects.filter(action="questionnaire.definitions").count() == 1
    questionnaires.definitions([CODE])
    assert BvnkCall.objects.filter(action="questionnaire.definitions").count() == 1
