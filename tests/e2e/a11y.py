"""Accessibility basics, checked in the real browser on every page a journey visits.

Not a full audit (no colour contrast, no screen-reader run): the checks that catch the
usual regressions of server-rendered forms.

- ARIA references (``aria-describedby``, ``aria-labelledby``) name existing elements and
  ``aria-invalid`` holds an ARIA value;
- every visible form control (input other than hidden/submit/button/reset/image,
  select, textarea) has an accessible label: a non-empty ``<label>`` (for= or wrapping),
  ``aria-label`` or ``aria-labelledby`` pointing at text;
- exactly one ``h1``; one ``main`` landmark; a page ``header`` (banner); a ``nav`` when
  someone is signed in;
- focus is visible: after each of the first Tab presses, the focused element has a
  computed outline or box-shadow;
- questionnaires are completed without a mouse (``keyboard_answer_*`` in the journeys).
"""

from __future__ import annotations

from typing import Any

# Runs in the page; returns one description per unlabelled visible control.
UNLABELLED_JS = """
() => {
  const selector = 'input:not([type=hidden]):not([type=submit]):not([type=button])'
    + ':not([type=reset]):not([type=image]), select, textarea';
  const text = (node) => (node ? (node.textContent || '').trim() : '');
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length)
    && getComputedStyle(el).visibility !== 'hidden';
  const problems = [];
  for (const el of document.querySelectorAll(selector)) {
    if (!visible(el)) { continue; }
    const labels = Array.from(el.labels || []).filter((label) => text(label) !== '');
    const ariaLabel = (el.getAttribute('aria-label') || '').trim();
    const labelledBy = (el.getAttribute('aria-labelledby') || '').split(/\\s+/)
      .filter(Boolean).map((id) => document.getElementById(id)).filter((n) => text(n) !== '');
    if (labels.length || ariaLabel || labelledBy.length) { continue; }
    problems.push(`${el.tagName.toLowerCase()}[type=${el.type || ''}]`
      + `[name=${el.name || ''}]#${el.id || ''}`);
  }
  return problems;
}
"""

LANDMARKS_JS = """
() => {
  const inSectioning = (el) => !!el.parentElement
    && !!el.parentElement.closest('main, article, aside, nav, section');
  const banners = Array.from(document.querySelectorAll('header, [role=banner]'))
    .filter((el) => el.getAttribute('role') === 'banner' || !inSectioning(el));
  return {
    h1: Array.from(document.querySelectorAll('h1')).map((h) => h.textContent.trim()),
    main: document.querySelectorAll('main, [role=main]').length,
    banner: banners.length,
    nav: document.querySelectorAll('nav, [role=navigation]').length,
  };
}
"""

# aria-describedby / aria-labelledby must name elements that exist; aria-invalid must
# hold an ARIA value (a template printing Python's None gives aria-invalid="None").
ARIA_REFERENCES_JS = """
() => {
  const problems = [];
  const valid = new Set(['true', 'false', 'grammar', 'spelling']);
  for (const el of document.querySelectorAll('[aria-describedby], [aria-labelledby]')) {
    for (const attribute of ['aria-describedby', 'aria-labelledby']) {
      const ids = (el.getAttribute(attribute) || '').split(/\\s+/).filter(Boolean);
      for (const id of ids) {
        if (!document.getElementById(id)) {
          problems.push(`${el.tagName.toLowerCase()}#${el.id || ''}: ${attribute}="${id}"`
            + ' names no element');
        }
      }
    }
  }
  for (const el of document.querySelectorAll('[aria-invalid]')) {
    if (!valid.has(el.getAttribute('aria-invalid'))) {
      problems.push(`${el.tagName.toLowerCase()}#${el.id || ''}: aria-invalid=`
        + `"${el.getAttribute('aria-invalid')}" is not an ARIA value`);
    }
  }
  return problems;
}
"""

FOCUS_JS = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) { return null; }
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow && style.boxShadow !== 'none';
  return {
    element: `${el.tagName.toLowerCase()}#${el.id || ''}.${(el.className || '').toString()}`
      + ` "${(el.textContent || el.value || '').trim().slice(0, 40)}"`,
    visible: outline || shadow,
  };
}
"""


def unlabelled_controls(page: Any) -> list[str]:
    """Visible form controls without an accessible label (tag, type, name, id)."""
    return list(page.evaluate(UNLABELLED_JS))


def aria_reference_problems(page: Any) -> list[str]:
    """ARIA attributes that point nowhere or hold invalid values (element and attribute)."""
    return list(page.evaluate(ARIA_REFERENCES_JS))


def landmark_problems(page: Any, *, signed_in: bool) -> list[str]:
    """What is wrong with the page's headings and landmarks (empty when all is well)."""
    found = page.evaluate(LANDMARKS_JS)
    problems = []
    if len(found["h1"]) != 1:
        problems.append(f"{len(found['h1'])} h1 elements (want exactly 1): {found['h1']}")
    if found["main"] != 1:
        problems.append(f"{found['main']} main landmarks (want exactly 1)")
    if found["banner"] < 1:
        problems.append("no page header (banner landmark)")
    if signed_in and found["nav"] < 1:
        problems.append("no nav landmark for a signed-in user")
    return problems


def focus_problems(page: Any, presses: int = 6) -> list[str]:
    """Press Tab from the top of the page; report focused elements without a visible ring."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    problems = []
    seen = 0
    for _ in range(presses):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_JS)
        if state is None:
            continue
        seen += 1
        if not state["visible"]:
            problems.append(f"no visible focus indicator on {state['element']}")
    if seen == 0:
        problems.append("Tab never moved the focus to an element")
    return problems


def page_problems(page: Any, *, signed_in: bool, focus: bool = True) -> list[str]:
    """All basic checks for the page as it is now, each problem naming page and control."""
    where = page.url
    problems = [f"{where}: unlabelled control {c}" for c in unlabelled_controls(page)]
    problems += [f"{where}: {p}" for p in aria_reference_problems(page)]
    problems += [f"{where}: {p}" for p in landmark_problems(page, signed_in=signed_in)]
    if focus:
        problems += [f"{where}: {p}" for p in focus_problems(page)]
    return problems
