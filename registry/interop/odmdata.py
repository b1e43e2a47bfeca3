"""The ODM ``ClinicalData`` of an export, streamed: one ``SubjectData`` per pseudonym.

Per patient (``SubjectKey`` = the export's ``pid``): the registry event (patient, index knee
and treatment forms from the ``patients`` table; adverse events as repeating item groups),
then one ``StudyEventData`` per visit of the ``visits`` table (its timepoint's event, or
``SE.UNSCHEDULED`` with a repeat key), holding the visit form (status, target and window
days, visit day, mode) and a form per instrument: item answers (``items`` table, when the
export has them) and the stored scores of that visit (the long table's rows; a score that
was stored but could not be computed is ``IsNull="Yes"``).  A visit not done has its visit
form only: its status says why its scores are missing.  No dates, names or study IDs.

Speed: every element of a column is made at once with Arrow (``xmltext``); a chunk of the
long table becomes one byte buffer, written as slices per visit, on a worker thread while
the next chunk is read from the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import scoring
from registry.interop.fields import Field, Form
from registry.interop.odm import (
    REGISTRY_EVENT,
    UNSCHEDULED_EVENT,
    event_oid,
    form_oid,
    group_oid,
    item_oid,
)
from registry.interop.xmltext import (
    Texts,
    attr,
    concat,
    elements,
    float_strings,
    value_strings,
    wrap_nonempty,
)
from registry.research.dataset import Dataset
from registry.research.scorestream import ScoreChunk
from registry.research.tables import Table
from registry.research.visitrows import NOT_SCORABLE, SCORED
from registry.research.writers import BinarySink, in_order

CLOSE_FORM = "</ItemGroupData></FormData>"
Progress = Callable[[int], None]


@dataclass
class Counts:
    subjects: int = 0
    events: int = 0
    score_items: int = 0
    answer_items: int = 0
    adverse_events: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Sources:
    """What the clinical data are made of: the export's loaded data and its tables."""

    data: Dataset
    forms: Sequence[Form]
    patients: Table
    visits: Table
    chunks: Callable[[], Iterator[ScoreChunk]]
    adverse_events: Table | None = None
    items: Table | None = None
    progress: Progress | None = None
    counts: Counts = field(default_factory=Counts)


def form_items(form: Form, frame: pd.DataFrame, fields: Sequence[Field] | None = None
               ) -> pa.Array:
    """``<ItemData>`` elements of the form's fields found in ``frame``, per row."""
    parts: list[pa.Array | str] = []
    for item in fields if fields is not None else form.fields:
        if item.column in frame.columns:
            values = value_strings(pa.array(frame[item.column]), item.column)
            parts.append(elements(f'<ItemData ItemOID="{item_oid(item)}" Value="', values))
    return concat(parts, len(frame))


def form_data(form: Form, frame: pd.DataFrame) -> pa.Array:
    """A one-group form as ``<FormData>`` per row ("" where no field has a value)."""
    head = (f'<FormData FormOID="{form_oid(form)}">'
            f'<ItemGroupData ItemGroupOID="{group_oid(form, form.label)}">')
    return wrap_nonempty(head, form_items(form, frame), CLOSE_FORM)


def adverse_event_blocks(form: Form, table: Table, pids: list[str]) -> np.ndarray:
    """Each patient's adverse events as one ``<FormData>`` of repeating item groups ("" for
    a patient without any), by patient position."""
    frame = table.frame
    per_patient = np.full(len(pids), "", dtype=object)
    if frame.empty:
        return per_patient
    body = form_items(form, frame)
    repeat = frame["event"].astype("Int64").fillna(0).astype(np.int64).astype(str)
    head = pc.binary_join_element_wise(
        f'<ItemGroupData ItemGroupOID="{group_oid(form, form.label)}" ItemGroupRepeatKey="',
        pa.array(repeat.to_numpy(object), pa.string()), '">', "")
    groups = pc.binary_join_element_wise(head, body, "</ItemGroupData>", "")
    position = pd.Series(range(len(pids)), index=pids)
    joined = (pd.Series(groups.to_numpy(zero_copy_only=False))
              .groupby(position.loc[frame["pid"].astype(str)].to_numpy()).agg("".join))
    per_patient[joined.index.to_numpy()] = (f'<FormData FormOID="{form_oid(form)}">'
                                            + joined.to_numpy(object) + "</FormData>")
    return per_patient


def patient_heads(sources: Sources, pids: list[str], events: np.ndarray | None,
                  first: int, stop: int) -> Texts:
    """Patients ``first`` … ``stop - 1``: ``<SubjectData>`` and the registry event (adverse
    events: ``events``, by position), left open for the visits."""
    frame = sources.patients.frame.iloc[first:stop]
    parts: list[pa.Array | str] = [
        elements('<SubjectData SubjectKey="', pa.array(pids[first:stop], pa.string()), '">'),
        f'<StudyEventData StudyEventOID="{REGISTRY_EVENT}">']
    for form in sources.forms:
        if form.level == "patient":
            parts.append(form_data(form, frame))
    if events is not None:
        parts.append(pa.array(events[first:stop], pa.string()))
    parts.append("</StudyEventData>")
    return Texts(concat(parts, len(frame)))


def visit_heads(sources: Sources, first: int, stop: int) -> Texts:
    """Rows ``first`` … ``stop - 1`` of the visits table (whole patients):
    ``<StudyEventData>`` (left open) and the visit form."""
    frame = sources.visits.frame.iloc[first:stop]
    codes = [tp.code for tp in sources.data.timepoints]
    tp_index = frame["timepoint"].cat.codes.to_numpy()
    unscheduled = tp_index >= len(codes)
    repeat = np.zeros(len(frame), np.int64)
    if unscheduled.any():
        rows = np.flatnonzero(unscheduled)
        owner = frame["pid"].astype(str).to_numpy(object)[rows]
        _, first_row, inverse = np.unique(owner, return_index=True, return_inverse=True)
        repeat[rows] = np.arange(len(rows)) - first_row[inverse] + 1
    opens = np.array([f'<StudyEventData StudyEventOID="{attr(event_oid(code))}">'
                      for code in codes] + [""], dtype=object)
    heads = opens[np.minimum(tp_index, len(codes))]
    heads[unscheduled] = [f'<StudyEventData StudyEventOID="{UNSCHEDULED_EVENT}" '
                          f'StudyEventRepeatKey="{n}">' for n in repeat[unscheduled]]
    visit_form = next(form for form in sources.forms if form.name == "visit")
    body = form_data(visit_form, frame)
    return Texts(pc.binary_join_element_wise(pa.array(heads, pa.string()), body, ""))


class ScoreText:
    """Turns chunks of the long table into XML: per visit, its instruments' forms."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        data = sources.data
        forms = {form.instrument: form for form in sources.forms if form.instrument}
        codes = list(scoring.INSTRUMENTS)
        self.instrument_of = np.array([codes.index(scoring.SCORES[code].instrument)
                                       for code in data.score_codes], dtype=np.int64)
        self.forms = [forms[code] for code in codes]
        self.form_heads = np.array([f'<FormData FormOID="{form_oid(form)}">'
                                    for form in self.forms], dtype=object)
        self.score_heads = np.array([f'<ItemGroupData ItemGroupOID="'
                                     f'{group_oid(form, "Scores")}">' for form in self.forms],
                                    dtype=object)
        score_fields = {f.score: f for form in self.forms for f in form.fields if f.score}
        self.prefixes = pa.array([f'<ItemData ItemOID="{item_oid(score_fields[code])}" Value="'
                                  for code in data.score_codes], pa.string())
        self.nulls = pa.array([f'<ItemData ItemOID="{item_oid(score_fields[code])}" '
                               'IsNull="Yes"/>' for code in data.score_codes], pa.string())
        self.items = sources.items.frame if sources.items is not None else None
        self.item_row = self._item_rows()

    def _item_rows(self) -> np.ndarray:
        """Each visit's row in the items table (-1: none), by visit index."""
        visits = self.sources.data.visits
        n_visits = len(visits.ids) if visits is not None else 0
        rows = np.full(n_visits, -1, np.int64)
        if self.items is None or self.items.empty or visits is None:
            return rows
        frame = self.sources.visits.frame
        keys = pd.DataFrame({"pid": frame["pid"].astype(str),
                             "timepoint": frame["timepoint"].astype(str),
                             "visit": visits.order})
        found = pd.DataFrame({"pid": self.items["pid"].astype(str),
                              "timepoint": self.items["timepoint"].astype(str),
                              "row": np.arange(len(self.items))}).merge(
            keys, on=["pid", "timepoint"], how="inner")
        rows[found["visit"].to_numpy()] = found["row"].to_numpy()
        return rows

    def _item_groups(self, form: Form, rows: np.ndarray, counts: Counts) -> np.ndarray:
        """The instrument's answered item groups for these items-table rows (the answers
        written are added to ``counts``)."""
        if self.items is None or not len(rows):
            return np.full(len(rows), "", dtype=object)
        frame = self.items.iloc[rows]
        parts: list[pa.Array | str] = []
        for group in form.groups:
            fields = [f for f in form.fields if f.item and f.group == group]
            if fields:
                body = form_items(form, frame, fields)
                counts.answer_items += int(
                    frame[[f.column for f in fields if f.column in frame]].notna().sum().sum())
                parts.append(wrap_nonempty(
                    f'<ItemGroupData ItemGroupOID="{group_oid(form, group)}">', body,
                    "</ItemGroupData>"))
        return concat(parts, len(frame)).to_numpy(zero_copy_only=False)

    def build(self, chunk: ScoreChunk,
              counts: Counts) -> tuple[Texts, dict[int, tuple[int, int]]]:
        """The chunk's stored scores as XML, and each visit's (first, stop) row; the items
        written are added to ``counts`` (thread-safe: reads shared state only)."""
        reason = getattr(chunk, "reason", None)
        keep = (np.ones(len(chunk), bool) if reason is None
                else (reason == SCORED) | (reason == NOT_SCORABLE))
        visit = chunk.visit[keep]
        score = chunk.score[keep].astype(np.int64)
        values = chunk.value[keep]
        n = len(visit)
        if not n:
            return Texts(pa.array([], pa.string())), {}
        instrument = self.instrument_of[score]
        new_visit = np.ones(n, bool)
        new_visit[1:] = visit[1:] != visit[:-1]
        new_form = new_visit.copy()
        new_form[1:] |= instrument[1:] != instrument[:-1]
        closes = np.where(new_form & ~new_visit, CLOSE_FORM, "")
        opens = np.full(n, "", dtype=object)
        for k in np.unique(instrument[new_form]):
            at = np.flatnonzero(new_form & (instrument == k))
            item_rows = self.item_row[visit[at]] if len(self.item_row) else np.full(len(at), -1)
            answered = item_rows >= 0
            groups = np.full(len(at), "", dtype=object)
            if self.forms[k].instrument and answered.any():
                groups[answered] = self._item_groups(self.forms[k], item_rows[answered],
                                                     counts)
            opens[at] = self.form_heads[k] + groups + self.score_heads[k]
        present = ~np.isnan(values)
        value_text = float_strings(pa.array(np.where(present, values, np.nan)),
                                   "outcomes_long.value")
        taken = pc.take(self.prefixes, pa.array(score))
        items = pc.if_else(pa.array(present),
                           pc.binary_join_element_wise(taken, pc.fill_null(value_text, ""),
                                                       '"/>', ""),
                           pc.take(self.nulls, pa.array(score)))
        joined = pc.binary_join_element_wise(pa.array(closes, pa.string()),
                                             pa.array(opens, pa.string()), items, "")
        starts = np.flatnonzero(new_visit)
        stops = np.append(starts[1:], n)
        segments = {int(v): (int(a), int(b)) for v, a, b in zip(visit[starts], starts, stops,
                                                                   strict=True)}
        counts.score_items += n
        return Texts(joined), segments


def write_clinical(sources: Sources, pids: list[str], sink: BinarySink) -> dict[str, int]:
    """Write every ``SubjectData``; the counts of what was written.  Each chunk of the long
    table is turned into XML with its patients' and visits' heads on worker threads while
    the next chunk is read from the database on this one, and written in order
    (``writers.in_order``)."""
    visits = sources.data.visits
    if visits is None:
        raise ValueError("the dataset was loaded without its visits")
    starts = visits.starts
    order = visits.order
    sources.patients.frame  # noqa: B018 - the tables' rows read here, before the threads
    sources.visits.frame  # noqa: B018
    scores = ScoreText(sources)
    counts = sources.counts
    counts.subjects = len(pids)
    counts.events = sources.visits.rows
    adverse = next((form for form in sources.forms if form.level == "event"), None)
    events = None
    if adverse is not None and sources.adverse_events is not None:
        events = adverse_event_blocks(adverse, sources.adverse_events, pids)
        counts.adverse_events = sources.adverse_events.rows

    def render(first: int, stop: int, chunk: ScoreChunk | None) -> tuple[bytes, Counts, int]:
        found = Counts()
        text, segments = scores.build(chunk, found) if chunk is not None else (None, {})
        heads = patient_heads(sources, pids, events, first, stop)
        k0 = int(starts[first])
        visit_texts = visit_heads(sources, k0, int(starts[stop]))
        out: list[bytes | memoryview] = []
        for p in range(first, stop):
            out.append(heads.item(p - first))
            for k in range(int(starts[p]), int(starts[p + 1])):
                out.append(visit_texts.item(k - k0))
                span = segments.get(int(order[k]))
                if text is not None and span is not None:
                    out += [text.span(*span), CLOSE_FORM.encode()]
                out.append(b"</StudyEventData>")
            out.append(b"</SubjectData>\n")
        return b"".join(out), found, len(chunk) if chunk is not None else 0

    def write(rendered: tuple[bytes, Counts, int]) -> None:
        text, found, rows = rendered
        sink.write(text)
        counts.score_items += found.score_items
        counts.answer_items += found.answer_items
        if sources.progress and rows:
            sources.progress(rows)

    def pieces() -> Iterator[tuple[int, int, ScoreChunk | None]]:
        """(first patient, stop, chunk): the chunks read here, then any patients after
        the last chunk (without scores)."""
        cursor = 0
        for chunk in sources.chunks():
            stop = max(cursor, chunk.stop)
            yield cursor, stop, chunk
            cursor = stop
        if cursor < len(pids):
            yield cursor, len(pids), None

    in_order(pieces(), lambda piece: render(*piece), write)
    return counts.as_dict()
