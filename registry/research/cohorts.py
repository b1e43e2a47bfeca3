"""Cohort definitions: parse and check the filters, build the cohort query in SQL, save.

A definition is a small JSON-able dict (only the filters that are set); it is what a saved
``Cohort`` stores, what the manifest and the audit trail record, and what the builder's form
and the live count send.  ``cohort_select`` turns it into ONE ``SELECT patient.id`` so that
counts and exports never query per patient.  Only treated patients belong to a cohort:
day 0 of every exported time is the treatment date.

Treatment dates are filtered by whole months (``YYYY-MM``), for every role: with day
bounds, a few counts would bisect a patient's treatment date to the day (see
``registry.research.disclosure``).  A day is refused with a message; a definition saved
by an older version with day bounds is read as the whole months those days fall in.
Numbers are read strictly (ASCII digits), so no input reaches the database as an error.

A treatment's product is the catalogue's (the product of the lot it used); a treatment
without a lot (recorded before the catalogue, or without one) keeps the product name as
recorded (``product_name``).  Comparator treatments (hyaluronic acid, PRP, ...) have no
product: they are told apart by their treatment type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from registry.i18n import timepoint_name
from registry.models import (
    AdverseEvent,
    CellProduct,
    Cohort,
    IndexKnee,
    Patient,
    ProductLot,
    Site,
    Timepoint,
    Treatment,
    Visit,
)
from registry.models.protocol import DEFAULT_TIMEPOINTS
from registry.services import ValidationFailed
from registry.vocabularies import (
    CELL_SOURCES,
    CO_INTERVENTIONS,
    KL_GRADES,
    LATERALITY,
    N_,
    SEX,
    TREATMENT_TYPES,
)

AGE_CAP = 90
"""Ages at treatment of 90 and above are exported (and filtered) as 90, flagged "90+"."""

AE_FILTERS = {"any": N_("Any adverse event"), "serious": N_("Any serious adverse event"),
              "none": N_("No adverse event")}
MULTI_FIELDS = ("site", "sex", "kl_grade", "laterality", "treatment_type", "cell_source",
                "product", "co_intervention", "timepoint")
RANGE_FIELDS = {"age_min": (0, 120), "age_max": (0, 120), "bmi_min": (10, 80),
                "bmi_max": (10, 80)}
DATE_FIELDS = ("treated_from", "treated_to")
MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
DAY = re.compile(r"([0-9]{4})-([0-9]{2})-[0-9]{2}")
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
MONTH_RANGE = ("1990-01", "2099-12")  # plausible treatment months
DESCRIPTION_MAX = 2000
ALL_PATIENTS = N_("All treated patients")
# Labels are N_-marked and translated where shown (``field_label``, the ``label`` filter).
FIELD_LABELS = {
    "site": N_("Site"), "sex": N_("Sex"), "kl_grade": N_("KL grade"),
    "laterality": N_("Index knee"), "treatment_type": N_("Treatment type"),
    "cell_source": N_("Cell source"), "product": N_("Product"),
    "co_intervention": N_("Co-interventions"),
    "timepoint": N_("Timepoints completed"), "age_min": N_("Age from"), "age_max": N_("Age to"),
    "bmi_min": N_("BMI from"), "bmi_max": N_("BMI to"), "treated_from": N_("Treated from"),
    "treated_to": N_("Treated to"), "adverse_events": N_("Adverse events"),
}


def field_label(name: str) -> str:
    """A filter's label in the language in force."""
    return _(FIELD_LABELS[name]) if name in FIELD_LABELS else name


def filter_choices(session: Session) -> dict[str, list[tuple[str, str]]]:
    """The allowed values of each multi-value filter: (code, label); from data + vocabularies,
    labels in the language in force."""
    sites = session.execute(select(Site.code, Site.name).order_by(Site.code)).all()
    products = product_names(session)
    timepoints = session.execute(
        select(Timepoint.code, Timepoint.name, func.min(Timepoint.sort_order))
        .group_by(Timepoint.code, Timepoint.name).order_by(func.min(Timepoint.sort_order))
    ).all()
    seen: dict[str, str] = {}
    for code, name, _order in timepoints:
        seen.setdefault(code, name)
    return {
        "site": [(code, f"{code} — {name}") for code, name in sites],
        "sex": _translated(SEX),
        "kl_grade": [(str(code), _(label)) for code, label in KL_GRADES.items()],
        "laterality": _translated(LATERALITY),
        "treatment_type": _translated(TREATMENT_TYPES),
        "cell_source": _translated(CELL_SOURCES),
        "product": [(name, name) for name in products],
        "co_intervention": _translated(CO_INTERVENTIONS),
        "timepoint": [(code, timepoint_name(name)) for code, name in seen.items()],
        "adverse_events": _translated(AE_FILTERS),
    }


def product_names(session: Session) -> list[str]:
    """The products a cohort can be filtered by: the catalogue's, and the names recorded on
    treatments without a lot that the catalogue does not hold (sorted)."""
    catalogue = session.scalars(select(CellProduct.name)).all()
    recorded = session.scalars(select(Treatment.product_name).distinct().where(
        Treatment.lot_id.is_(None), Treatment.product_name.is_not(None))).all()
    return sorted({name for name in [*catalogue, *recorded] if name})


def treatment_product() -> ColumnElement[str | None]:
    """The product of a treatment as a column: the catalogue's name of its lot's product,
    else the name recorded on the treatment (None for comparators).  Needs the query to
    outer-join ``ProductLot`` and ``CellProduct`` as ``with_product`` does."""
    return case((Treatment.lot_id.is_not(None), CellProduct.name),
                else_=Treatment.product_name)


def with_product(query: Select[Any]) -> Select[Any]:
    """``query`` (which joins ``Treatment``) outer-joined to the treatment's lot and its
    catalogue product; a treatment without a lot to the catalogue entry of the name it
    recorded, if there is one."""
    return (query.outerjoin(ProductLot, ProductLot.id == Treatment.lot_id)
            .outerjoin(CellProduct, or_(
                CellProduct.id == ProductLot.product_id,
                and_(Treatment.lot_id.is_(None), CellProduct.name == Treatment.product_name))))


def _product_condition(names: list[str]) -> ColumnElement[bool]:
    """Treatments whose product (``treatment_product``) is one of ``names``, without
    joining the lots into the cohort query."""
    return or_(Treatment.lot_id.in_(select(ProductLot.id).join(CellProduct)
                                    .where(CellProduct.name.in_(names))),
               and_(Treatment.lot_id.is_(None), Treatment.product_name.in_(names)))


def _translated(vocabulary: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(code, _(label)) for code, label in vocabulary.items()]


def _getlist(data: Any, key: str) -> list[str]:
    if hasattr(data, "getlist"):
        values = data.getlist(key)
    else:
        raw = data.get(key)
        values = [] if raw in (None, "") else raw if isinstance(raw, list) else [raw]
    return [str(value).strip() for value in values if str(value).strip() != ""]


def parse_definition(session: Session, data: Mapping[str, Any], *,
                     stored: bool = False) -> dict[str, Any]:
    """A checked, normalised definition from form data or (``stored``) a saved definition.

    Raises ValidationFailed naming each field with an unknown value or a bad number/date.
    """
    choices = filter_choices(session)
    errors: dict[str, str] = {}
    definition: dict[str, Any] = {}
    for name in MULTI_FIELDS:
        values = list(dict.fromkeys(_getlist(data, name)))
        allowed = {code for code, _label in choices[name]}
        unknown = [value for value in values if value not in allowed]
        if unknown:
            errors[name] = _("%(field)s: unknown value %(values)s; choose from the list.",
                             field=field_label(name), values=", ".join(map(repr, unknown)))
        elif values:
            definition[name] = [int(v) for v in values] if name == "kl_grade" else values
    for name, (low, high) in RANGE_FIELDS.items():
        raw = _getlist(data, name)
        if not raw:
            continue
        if NUMBER.fullmatch(raw[0]) is None:
            errors[name] = _("%(field)s: %(value)s is not a number.", field=field_label(name),
                             value=repr(raw[0]))
            continue
        number = float(raw[0])
        if not low <= number <= high:
            errors[name] = _("%(field)s: must be between %(low)s and %(high)s.",
                             field=field_label(name), low=low, high=high)
            continue
        definition[name] = int(number) if name.startswith("age") and number.is_integer() \
            else number
    for name in DATE_FIELDS:
        raw = _getlist(data, name)
        if not raw:
            continue
        try:
            definition[name] = parse_month(raw[0], stored=stored)
        except ValueError as problem:
            errors[name] = _("%(field)s: %(problem)s", field=field_label(name),
                             problem=problem)
    ae = _getlist(data, "adverse_events")
    if ae:
        if ae[0] not in AE_FILTERS:
            errors["adverse_events"] = _("Adverse events: unknown value %(value)s; use one "
                                         "of %(known)s.", value=repr(ae[0]),
                                         known=", ".join(AE_FILTERS))
        else:
            definition["adverse_events"] = ae[0]
    for lower, upper in (("age_min", "age_max"), ("bmi_min", "bmi_max"),
                         ("treated_from", "treated_to")):
        if lower in definition and upper in definition and definition[lower] > definition[upper]:
            errors[upper] = _("%(field)s: must not be before %(other)s.",
                              field=field_label(upper), other=field_label(lower))
    unknown_keys = set(data.keys()) - set(FIELD_LABELS)
    if stored and unknown_keys:  # a saved definition from an older or edited version
        errors["definition"] = _("Unknown filter %(names)s.",
                                 names=", ".join(sorted(unknown_keys)))
    if errors:
        raise ValidationFailed(errors)
    return definition


def parse_month(text: str, *, stored: bool = False) -> str:
    """``YYYY-MM`` checked and within ``MONTH_RANGE``; ValueError says what is wrong.

    A day (``YYYY-MM-DD``) is refused, except in a ``stored`` definition from an older
    version, which is read as its month.
    """
    if stored and DAY.fullmatch(text):
        text = text[:7]
    elif DAY.fullmatch(text):
        raise ValueError(_("%(value)s is a day; give a month as YYYY-MM (e.g. %(month)s): "
                           "treatment dates are filtered by whole months only.",
                           value=repr(text), month=text[:7]))
    match = MONTH.fullmatch(text)
    if match is None or not 1 <= int(match[2]) <= 12:
        raise ValueError(_("%(value)s is not a month (YYYY-MM, e.g. 2025-03).",
                           value=repr(text)))
    low, high = MONTH_RANGE
    if not low <= text <= high:
        raise ValueError(_("%(value)s is outside %(low)s to %(high)s.", value=repr(text),
                           low=low, high=high))
    return text


def month_start(month: str) -> date:
    """The first day of a ``YYYY-MM`` month."""
    return date(int(month[:4]), int(month[5:7]), 1)


def month_after(month: str) -> date:
    """The first day of the month after a ``YYYY-MM`` month."""
    year, number = int(month[:4]), int(month[5:7])
    return date(year + number // 12, number % 12 + 1, 1)


def age_at_treatment() -> ColumnElement[int]:
    """Whole years from birth to treatment, computed in SQL (birth dates never leave it)."""
    born, treated = Patient.birth_date, Treatment.treatment_date
    before_birthday = (extract("month", treated) * 100 + extract("day", treated)
                       < extract("month", born) * 100 + extract("day", born))
    years = (cast(extract("year", treated), Integer) - cast(extract("year", born), Integer)
             - case((before_birthday, 1), else_=0))
    return years


def capped_age() -> ColumnElement[int]:
    age = age_at_treatment()
    return case((age >= AGE_CAP, AGE_CAP), else_=age)


def cohort_select(session: Session, definition: Mapping[str, Any]) -> Select[int]:
    """``SELECT patient.id`` of the treated patients matching ``definition`` (one query)."""
    query = (select(Patient.id).join(Treatment, Treatment.patient_id == Patient.id)
             .outerjoin(IndexKnee, IndexKnee.patient_id == Patient.id))
    conditions: list[ColumnElement[bool]] = []
    if "site" in definition:
        conditions.append(Patient.site_id.in_(
            select(Site.id).where(Site.code.in_(definition["site"]))))
    simple = (("sex", Patient.sex), ("kl_grade", IndexKnee.kl_grade),
              ("laterality", IndexKnee.laterality), ("treatment_type", Treatment.treatment_type),
              ("cell_source", Treatment.cell_source))
    for name, column in simple:
        if name in definition:
            conditions.append(column.in_(definition[name]))
    if "product" in definition:
        conditions.append(_product_condition(definition["product"]))
    if "age_min" in definition:
        conditions.append(capped_age() >= min(definition["age_min"], AGE_CAP))
    if "age_max" in definition and definition["age_max"] < AGE_CAP:
        conditions.append(capped_age() <= definition["age_max"])
    if "bmi_min" in definition:
        conditions.append(Patient.bmi >= definition["bmi_min"])
    if "bmi_max" in definition:
        conditions.append(Patient.bmi <= definition["bmi_max"])
    if "treated_from" in definition:
        conditions.append(Treatment.treatment_date >= month_start(definition["treated_from"]))
    if "treated_to" in definition:  # the whole month
        conditions.append(Treatment.treatment_date < month_after(definition["treated_to"]))
    if "co_intervention" in definition:
        # JSON list stored as text on both backends; codes come from the vocabulary.
        as_text = cast(Treatment.co_interventions, String)
        conditions.append(or_(*(as_text.like(f'%"{code}"%')
                                for code in definition["co_intervention"])))
    for code in definition.get("timepoint", []):
        # Correlated EXISTS: one probe per patient of the unique (patient_id, timepoint_id)
        # index of visit, instead of materialising every done visit.
        conditions.append(exists().where(
            Visit.patient_id == Patient.id,
            Visit.timepoint_id.in_(select(Timepoint.id).where(Timepoint.code == code)),
            Visit.status == "done"))
    ae = definition.get("adverse_events")
    if ae in ("any", "none"):
        with_ae = Patient.id.in_(select(AdverseEvent.patient_id))
        conditions.append(with_ae if ae == "any" else ~with_ae)
    elif ae == "serious":
        conditions.append(Patient.id.in_(
            select(AdverseEvent.patient_id).where(AdverseEvent.serious.is_(True))))
    return query.where(*conditions)


def count_patients(session: Session, definition: Mapping[str, Any]) -> int:
    subquery = cohort_select(session, definition).subquery()
    return int(session.scalar(select(func.count()).select_from(subquery)) or 0)


# The labels of coded filter values, for ``describe`` (a timepoint of a protocol of its own
# is shown by its code).
VALUE_LABELS: dict[str, Mapping[Any, str]] = {
    "sex": SEX, "kl_grade": KL_GRADES, "laterality": LATERALITY,
    "treatment_type": TREATMENT_TYPES, "cell_source": CELL_SOURCES,
    "co_intervention": CO_INTERVENTIONS, "adverse_events": AE_FILTERS,
    "timepoint": {spec["code"]: spec["name"] for spec in DEFAULT_TIMEPOINTS},
}


def describe(definition: Mapping[str, Any]) -> list[str]:
    """Human-readable lines for a definition (pages and the CLI): labels, not codes, in
    the language in force."""
    if not definition:
        return [_(ALL_PATIENTS)]
    lines = []
    for key, value in definition.items():
        named = VALUE_LABELS.get(key, {})
        shown = ", ".join(_label(named, item) for item in value) \
            if isinstance(value, list) else _label(named, value)
        lines.append(_("%(field)s: %(values)s", field=field_label(key), values=shown))
    return lines


def _label(named: Mapping[Any, str], value: Any) -> str:
    """A coded value's label, translated; anything else (a site, a product, a number, a
    timepoint of a protocol of its own) as it is."""
    return _(named[value]) if named.get(value) else str(value)


def save_cohort(session: Session, *, name: str, description: str | None,
                definition: Mapping[str, Any], user_id: int | None) -> Cohort:
    """Store a new named cohort (its definition, not its rows)."""
    name = name.strip()
    if not name:
        raise ValidationFailed({"name": _("Name: give the cohort a name.")})
    if len(name) > 120:
        raise ValidationFailed({"name": _("Name: at most 120 characters.")})
    if len(description or "") > DESCRIPTION_MAX:
        raise ValidationFailed({"description": _("Description: at most %(limit)s "
                                                 "characters.",
                                                 limit=format(DESCRIPTION_MAX, ","))})
    taken = ValidationFailed({"name": _("Name: a cohort called %(name)s already exists.",
                                        name=repr(name))})
    if session.scalar(select(Cohort.id).where(Cohort.name == name)) is not None:
        raise taken
    cohort = Cohort(name=name, description=(description or "").strip() or None,
                    definition=dict(definition), created_by_id=user_id)
    try:
        with session.begin_nested():  # the same name saved at the same moment elsewhere
            session.add(cohort)
            session.flush()
    except IntegrityError:
        raise taken from None
    return cohort


def find_cohort(session: Session, name: str) -> Cohort | None:
    return session.scalar(select(Cohort).where(Cohort.name == name))


def list_cohorts(session: Session) -> list[Cohort]:
    return list(session.scalars(select(Cohort).order_by(Cohort.name)))


def as_query_pairs(definition: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The definition as URL query pairs (to reopen it in the builder)."""
    pairs: list[tuple[str, str]] = []
    for key, value in definition.items():
        values: Iterable[Any] = value if isinstance(value, list) else [value]
        pairs.extend((key, str(item)) for item in values)
    return pairs
