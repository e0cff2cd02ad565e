"""The adapter: every combination of provider methods becomes one call, and each capability is answered once."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column

from exporter.adapter import AdaptedProvider, MalformedOutput, adapt
from exporter.contracts import MetricsContext, MetricValue, Scope
from exporter.errors import ConfigError, ProviderLoadError
from exporter.schema import KnownValues, SchemaTables, reference_tables
from providers._base import GroupedProvider, GroupRows, Spec

CONTEXT = MetricsContext(period="30d")
DB: Any = None  # the fake providers below never touch the database


def vendor_value(vendor_id: int) -> MetricValue:
    return MetricValue(key="fake.vendor", value=vendor_id * 10, label="Vendor", category="fake")


def platform_value(platform_id: int) -> MetricValue:
    return MetricValue(key="fake.platform", value=platform_id * 100, label="Platform", category="fake")


class PerVendor:
    """The protocol alone; notes every call it gets."""

    metrics_category = "fake"

    def __init__(self) -> None:
        self.called: list[tuple[str, Any]] = []

    def get_vendor_metrics(self, db: Any, vendor_id: int, context: MetricsContext | None = None) -> list[MetricValue]:
        self.called.append(("get_vendor_metrics", vendor_id))
        return [vendor_value(vendor_id)]

    def get_platform_metrics(
        self, db: Any, platform_id: int, context: MetricsContext | None = None
    ) -> list[MetricValue]:
        self.called.append(("get_platform_metrics", platform_id))
        return [platform_value(platform_id)]


class VendorBulk(PerVendor):
    """Vendors in bulk, platforms one by one."""

    def get_vendor_metrics_bulk(
        self, db: Any, vendor_ids: Collection[int], context: MetricsContext
    ) -> dict[int, list[MetricValue]]:
        self.called.append(("get_vendor_metrics_bulk", sorted(vendor_ids)))
        return {v: [vendor_value(v)] for v in vendor_ids}


class PlatformBulk(PerVendor):
    """Vendors one by one, platforms in bulk."""

    def get_platform_metrics_bulk(
        self, db: Any, platform_ids: Collection[int], context: MetricsContext
    ) -> dict[int, list[MetricValue]]:
        self.called.append(("get_platform_metrics_bulk", sorted(platform_ids)))
        return {p: [platform_value(p)] for p in platform_ids}


class SeparateBulk(VendorBulk, PlatformBulk):
    """Both per-scope bulk methods."""


class Combined(SeparateBulk):
    """Every method, the combined one included: only that one may be called."""

    def get_metrics_bulk(
        self, db: Any, vendor_ids: Collection[int], platform_ids: Collection[int], context: MetricsContext
    ) -> tuple[dict[int, list[MetricValue]], dict[int, list[MetricValue]]]:
        self.called.append(("get_metrics_bulk", (sorted(vendor_ids), sorted(platform_ids))))
        return {v: [vendor_value(v)] for v in vendor_ids}, {p: [platform_value(p)] for p in platform_ids}


CASES = {
    PerVendor: (
        "get_vendor_metrics + get_platform_metrics",
        [("get_vendor_metrics", 1), ("get_vendor_metrics", 2), ("get_platform_metrics", 7)],
    ),
    VendorBulk: (
        "get_vendor_metrics_bulk + get_platform_metrics",
        [("get_vendor_metrics_bulk", [1, 2]), ("get_platform_metrics", 7)],
    ),
    PlatformBulk: (
        "get_vendor_metrics + get_platform_metrics_bulk",
        [("get_vendor_metrics", 1), ("get_vendor_metrics", 2), ("get_platform_metrics_bulk", [7])],
    ),
    SeparateBulk: (
        "get_vendor_metrics_bulk + get_platform_metrics_bulk",
        [("get_vendor_metrics_bulk", [1, 2]), ("get_platform_metrics_bulk", [7])],
    ),
    Combined: ("get_metrics_bulk", [("get_metrics_bulk", ([1, 2], [7]))]),
}


@pytest.mark.parametrize("kind", list(CASES), ids=[kind.__name__ for kind in CASES])
def test_every_combination_of_methods_answers_the_one_call(kind: type[PerVendor]) -> None:
    """Whatever a provider implements, compute returns both scopes' values, from the best methods it has."""
    provider = kind()
    adapted = adapt("fake", provider)
    vendors, platforms = adapted.compute(DB, [1, 2], [7], CONTEXT)
    assert vendors == {1: [vendor_value(1)], 2: [vendor_value(2)]}
    assert platforms == {7: [platform_value(7)]}
    calls, called = CASES[kind]
    assert adapted.calls == calls
    assert provider.called == called


@pytest.mark.parametrize("kind", [PerVendor, SeparateBulk], ids=["per-vendor", "separate-bulk"])
def test_a_scope_without_ids_is_not_asked(kind: type[PerVendor]) -> None:
    """With no platform ids (a shard other than 0), no platform method is called; with no vendors, no vendor one."""
    provider = kind()
    adapted = adapt("fake", provider)
    assert adapted.compute(DB, [3], [], CONTEXT) == ({3: [vendor_value(3)]}, {})
    assert adapted.compute(DB, [], [4], CONTEXT) == ({}, {4: [platform_value(4)]})
    assert [method for method, _ in provider.called] == [
        "get_vendor_metrics_bulk" if kind is SeparateBulk else "get_vendor_metrics",
        "get_platform_metrics_bulk" if kind is SeparateBulk else "get_platform_metrics",
    ]


def test_the_combined_call_is_asked_even_with_empty_scopes() -> None:
    """get_metrics_bulk is the provider's own single call: it is made as is, empty collections included."""
    provider = Combined()
    assert adapt("fake", provider).compute(DB, [], [], CONTEXT) == ({}, {})
    assert provider.called == [("get_metrics_bulk", ([], []))]


class Answers(PerVendor):
    """Returns whatever it is given, from each kind of method."""

    def __init__(self, answer: Any) -> None:
        super().__init__()
        self.answer = answer

    def get_vendor_metrics(self, db: Any, vendor_id: int, context: MetricsContext | None = None) -> Any:
        return self.answer


class AnswersBulk(Answers):
    def get_vendor_metrics_bulk(self, db: Any, vendor_ids: Collection[int], context: MetricsContext) -> Any:
        return self.answer


class AnswersCombined(Answers):
    def get_metrics_bulk(self, db: Any, vendor_ids: Any, platform_ids: Any, context: MetricsContext) -> Any:
        return self.answer


@pytest.mark.parametrize(
    ("kind", "answer", "message"),
    [
        (Answers, {"key": "value"}, "expected a list of MetricValue, got dict"),
        (Answers, None, "expected a list of MetricValue, got NoneType"),
        (AnswersBulk, [vendor_value(1)], "expected a mapping of id → list of MetricValue, got list"),
        (AnswersBulk, {1: vendor_value(1)}, "expected a list of MetricValue, got MetricValue"),
        (AnswersCombined, [{}, {}], "expected (vendor values, platform values), got list"),
        (AnswersCombined, ({},), "expected (vendor values, platform values), got tuple"),
        (AnswersCombined, ({}, None), "expected a mapping of id → list of MetricValue, got NoneType"),
    ],
    ids=["per-vendor dict", "per-vendor None", "bulk list", "bulk bare value", "combined list", "one", "None"],
)
def test_an_answer_of_the_wrong_shape_is_malformed_output(kind: type[Answers], answer: Any, message: str) -> None:
    """A provider whose answer is not the promised shape raises MalformedOutput naming what it got."""
    with pytest.raises(MalformedOutput) as caught:
        adapt("fake", kind(answer)).compute(DB, [1], [], CONTEXT)
    assert str(caught.value) == message


def test_tuples_are_accepted_as_lists() -> None:
    """A tuple of values is as good as a list (the exporter only reads them)."""
    adapted = adapt("fake", Answers((vendor_value(1),)))
    assert adapted.compute(DB, [1], [], CONTEXT) == ({1: [vendor_value(1)]}, {})


def test_an_object_without_the_protocol_is_refused_with_what_is_missing() -> None:
    """Something that is not a provider fails to load, and the message names the protocol's members."""
    with pytest.raises(ProviderLoadError) as caught:
        adapt("odd", object())
    assert str(caught.value) == (
        "provider 'odd': does not implement MetricsProviderProtocol "
        "(needs metrics_category, get_vendor_metrics and get_platform_metrics)"
    )


@pytest.mark.parametrize("category", ["Orders", "", "orders-v2", 7])
def test_a_category_that_is_not_a_module_code_is_refused(category: Any) -> None:
    """metrics_category must be a lower-case module code: it becomes part of family names and a label."""
    provider = PerVendor()
    provider.metrics_category = category
    with pytest.raises(ProviderLoadError, match="metrics_category must be a lower-case module code"):
        adapt("fake", provider)


class Declaring(PerVendor):
    """Declares what it reads, which statuses it knows, and its keys."""

    metric_keys: ClassVar[list[str]] = ["fake.vendor", "fake.platform"]

    def schema_requirements(self, tables: SchemaTables) -> list[Column[Any]]:
        return [tables.orders.c.status]

    def known_values(self, tables: SchemaTables) -> list[KnownValues]:
        return [KnownValues(tables.orders.c.status, frozenset({"delivered"}), lambda value: "ignored")]


def test_optional_capabilities_come_from_the_provider_when_it_has_them() -> None:
    """schema_requirements, known_values and metric_keys are the provider's own answers."""
    t = reference_tables()
    adapted = adapt("fake", Declaring())
    assert list(adapted.schema_requirements(t) or ()) == [t.orders.c.status]
    assert [check.column for check in adapted.known_values(t)] == [t.orders.c.status]
    assert adapted.metric_keys == ["fake.vendor", "fake.platform"]


def test_a_provider_without_the_optional_capabilities_gets_neutral_answers() -> None:
    """Undeclared requirements are None (not checked), not an empty list (checked, reads nothing)."""
    t = reference_tables()
    adapted = adapt("fake", PerVendor())
    assert adapted.schema_requirements(t) is None
    assert list(adapted.known_values(t)) == []
    assert adapted.metric_keys == []


class FakeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: int = 1


class Configurable(PerVendor):
    """Takes `FakeSettings`."""

    settings_model = FakeSettings

    def __init__(self) -> None:
        super().__init__()
        self.settings: FakeSettings | None = None

    def configure(self, settings: FakeSettings) -> None:
        self.settings = settings


def test_settings_are_validated_by_the_providers_model_and_applied() -> None:
    """configure passes the validated model instance to the provider."""
    provider = Configurable()
    adapt("fake", provider).configure("fake", {"threshold": 5})
    assert provider.settings == FakeSettings(threshold=5)


def test_invalid_settings_are_config_errors_under_the_providers_path() -> None:
    """An unknown key is reported at providers.<name>.settings.<key>."""
    with pytest.raises(ConfigError) as caught:
        adapt("fake", Configurable()).configure("renamed", {"colour": "red"})
    assert [path for path, _ in caught.value.problems] == ["providers.renamed.settings.colour"]


def test_settings_for_a_provider_that_takes_none_are_refused() -> None:
    """Settings given to a provider without a settings model are an error, not silently ignored."""
    with pytest.raises(ConfigError) as caught:
        adapt("fake", PerVendor()).configure("fake", {"threshold": 5})
    assert caught.value.problems == [("providers.fake.settings", "this provider takes no settings")]
    adapt("fake", PerVendor()).configure("fake", {})  # no settings: nothing to refuse


def test_the_adapter_keeps_the_provider_as_loaded() -> None:
    """`impl` is the factory's object, `category` its metrics_category."""
    provider = PerVendor()
    adapted = adapt("fake", provider)
    assert isinstance(adapted, AdaptedProvider)
    assert adapted.impl is provider
    assert adapted.category == "fake"


class Catalogued(GroupedProvider):
    """A catalog whose every field is distinct, so a field put in the wrong place shows."""

    category = "cat"
    CATALOG: ClassVar[Mapping[str, Spec]] = {
        "cat.plain": Spec("Plain label", "Plain description.", "plain-icon", "items"),
        "cat.windowed": Spec("Windowed label", "Windowed description.", "window-icon", windowed=True),
    }

    def values(self, scope: Scope, rows: GroupRows, context: MetricsContext) -> list[MetricValue]:
        return []


def test_metric_sets_every_field_from_the_catalog() -> None:
    """Each field of a built value is the catalog's field of the same name; value, unit and period as given."""
    provider = Catalogued()
    built = [
        provider.metric("cat.plain", 3, CONTEXT),
        provider.metric("cat.plain", 4, CONTEXT, unit="EUR"),
        provider.metric("cat.windowed", 5, MetricsContext(period="7d")),
        provider.metric("cat.windowed", 6, MetricsContext(period="30d")),
        provider.metric("cat.plain", 7, CONTEXT),
    ]
    plain = {"label": "Plain label", "category": "cat", "icon": "plain-icon", "description": "Plain description."}
    windowed = {
        "label": "Windowed label",
        "category": "cat",
        "icon": "window-icon",
        "description": "Windowed description.",
    }
    assert built == [
        MetricValue(key="cat.plain", value=3, unit="items", **plain),
        MetricValue(key="cat.plain", value=4, unit="EUR", **plain),
        MetricValue(key="cat.windowed", value=5, period="7d", **windowed),
        MetricValue(key="cat.windowed", value=6, period="30d", **windowed),
        MetricValue(key="cat.plain", value=7, unit="items", **plain),
    ]
    assert built[0] is not built[4]  # values are distinct objects, never a shared template
