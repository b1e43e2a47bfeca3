"""The worklist as a CSV call list (identifying data: the view audits every download).

Cells go through the registry's one formula-injection guard (``registry.spreadsheet``);
the phone column keeps a phone number such as ``+47 555 01234`` dialable as written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping

from registry.followup.worklist import WorklistRow
from registry.spreadsheet import safe_cell
from registry.vocabularies import CONTACT_OUTCOMES

HEADER = ("study_id", "site", "family_name", "given_name", "phone", "email", "timepoint",
          "status", "target_date", "window_start", "window_end", "days_overdue",
          "appointment_date", "last_contact_date", "last_contact_outcome",
          # The worklist's two timing figures (a long window can be far past its target
          # with months left); days_overdue is kept for existing spreadsheets.
          "days_past_target", "days_left_in_window")
PHONE_COLUMN = HEADER.index("phone")


def call_list_csv(rows: Iterable[WorklistRow], site_names: Mapping[int, str],
                  labels: Mapping[str, str]) -> str:
    """CSV text (UTF-8 with a byte-order mark, so spreadsheets read the accents)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        contact = row.last_contact
        values = (
            row.study_id, site_names.get(row.site_id, row.site_id), row.family_name,
            row.given_name, row.phone, row.email, row.timepoint_name,
            labels.get(row.status, row.status),
            row.target_date, row.window_start, row.window_end, row.days_overdue,
            row.appointment_date, contact.attempted_on if contact else None,
            CONTACT_OUTCOMES.get(contact.outcome, contact.outcome) if contact else None,
            row.days_past_target, row.days_left,
        )
        writer.writerow([safe_cell(value, phone=index == PHONE_COLUMN)
                         for index, value in enumerate(values)])
    return buffer.getvalue()
