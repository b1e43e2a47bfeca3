"""The worklist as a CSV call list (identifying data: the view audits every download)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping

from registry.followup.worklist import WorklistRow
from registry.vocabularies import CONTACT_OUTCOMES

HEADER = ("study_id", "site", "family_name", "given_name", "phone", "email", "timepoint",
          "status", "target_date", "window_start", "window_end", "days_overdue",
          "appointment_date", "last_contact_date", "last_contact_outcome")
PHONE = re.compile(r"^\+?[0-9 ()./-]+$")


def safe_cell(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP "CSV injection").

    Phone numbers such as ``+47 555 01234`` are left as they are.
    """
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not PHONE.match(text):
        return "'" + text
    return text


def call_list_csv(rows: Iterable[WorklistRow], site_names: Mapping[int, str],
                  labels: Mapping[str, str]) -> str:
    """CSV text (UTF-8 with a byte-order mark, so spreadsheets read the accents)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        contact = row.last_contact
        writer.writerow([safe_cell(value) for value in (
            row.study_id, site_names.get(row.site_id, row.site_id), row.family_name,
            row.given_name, row.phone, row.email, row.timepoint_name,
            labels.get(row.status, row.status),
            row.target_date, row.window_start, row.window_end, row.days_overdue,
            row.appointment_date, contact.attempted_on if contact else None,
            CONTACT_OUTCOMES.get(contact.outcome, contact.outcome) if contact else None,
        )])
    return buffer.getvalue()
