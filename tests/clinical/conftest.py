"""Clinical tests run with the clock pinned, so date rules are reproducible, and with CSRF
protection on, as in production: forms are submitted as the pages render them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from registry import audit_capture as capture
from registry.lots.services import register_lot, save_product
from registry.models import CellProduct, ProductLot, Site, User
from tests.clinical.browser import sign_in

TODAY = date(2026, 6, 1)


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "WTF_CSRF_ENABLED": True}


@pytest.fixture
def treated(make_patient, site_a):
    """A patient treated on 2026-01-01 (visits scheduled from it)."""
    return make_patient(site_a, treatment_date=date(2026, 1, 1))


@pytest.fixture
def as_user(browser, make_user) -> Callable[..., User]:
    """Sign ``browser`` in through the rendered sign-in form as a new user."""

    def login(role: str = "clinician", sites: list[Site] | None = None) -> User:
        user = make_user(role, sites=sites or [])
        sign_in(browser, user.email)
        return user

    return login


@pytest.fixture
def clinician(as_user, site_a) -> User:
    """A clinician of site A, signed in (in ``browser``)."""
    return as_user("clinician", sites=[site_a])


@pytest.fixture
def product(db) -> CellProduct:
    """An autologous bone-marrow product in the catalogue."""
    capture.set_actor(db, None, "test")
    return save_product(db, {"name": "BMAC kit", "manufacturer": "Clinic lab",
                             "origin": "autologous", "tissue_source": "bone_marrow",
                             "preparation": "bmac", "minimally_manipulated": True})


@pytest.fixture
def make_lot(db, product) -> Callable[..., ProductLot]:
    """Register a lot of ``product`` (every site's unless ``site``)."""
    def make(number: str, *, site: Site | None = None, status: str = "released",
             expiry: date | None = None) -> ProductLot:
        return register_lot(db, {"product_id": product.id, "lot_number": number,
                                 "site_id": site.id if site else None,
                                 "expiry_date": expiry, "status": status,
                                 "status_reason": None if status == "released" else "test"},
                            TODAY)
    return make


@pytest.fixture
def lot(make_lot) -> ProductLot:
    """A released lot every site may use."""
    return make_lot("LOT-2026-001")
