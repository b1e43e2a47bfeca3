"""Cell-product traceability: the product catalogue, lots, trace, recall and lot safety."""

from flask import Blueprint

bp = Blueprint("lots", __name__, url_prefix="/lots")

from registry.lots import routes  # noqa: E402,F401  - registers the views on bp
