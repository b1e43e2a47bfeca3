"""Filling a page's form with kept values: every kind of control, nothing else touched."""

from __future__ import annotations

from registry.auth.formfill import fill_forms

PAGE = """<!doctype html><html><body>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="T0">
<input name="note" value="sign-out form"></form>
<form method="post" novalidate id="f">
  <input id="csrf_token" name="csrf_token" type="hidden" value="FRESH">
  <input id="version" name="version" type="hidden" value="7">
  <input type="date" name="visit_date" value="2026-01-01">
  <input type="number" name="vas-VAS" value="">
  <input type="radio" name="womac-P1" value="0" checked>
  <input type="radio" name="womac-P1" value="3">
  <input type="radio" name="womac-P2" value="1" checked>
  <input type="checkbox" name="active" value="y" checked>
  <input type="checkbox" name="co" value="physio">
  <input type="checkbox" name="co" value="brace" />
  <select name="sex"><option value="female" selected>F</option>
    <option value="male">M</option></select>
  <select name="tags" multiple><option value="a" selected>A</option>
    <option value="b">B</option></select>
  <textarea name="notes">old &amp; saved</textarea>
  <input type="password" name="current_password" value="">
  <input type="text" name="locked" value="keep" disabled>
  <input type="submit" name="submit" value="Save">
</form>
<p>Text with &amp; entities &lt;b&gt; and a <a href="/x?a=1&amp;b=2">link</a>.</p>
</body></html>"""

FIELDS = [("csrf_token", "OLD"), ("version", "6"), ("visit_date", "2026-02-03"),
          ("vas-VAS", "37"), ("womac-P1", "3"), ("co", "physio"), ("co", "brace"),
          ("sex", "male"), ("notes", 'typed <script>alert("x")</script> & more'),
          ("current_password", "secret"), ("locked", "changed"), ("note", "not mine")]


def filled() -> str:
    return fill_forms(PAGE, page="/patients/1/visits/2", action_path="/patients/1/visits/2",
                      fields=FIELDS)


def test_text_date_number_and_hidden_inputs_get_the_kept_value():
    html = filled()
    assert 'name="version" type="hidden" value="6"' in html  # the version typed against
    assert 'name="visit_date" value="2026-02-03"' in html
    assert 'name="vas-VAS" value="37"' in html


def test_radios_checkboxes_and_selects_follow_what_was_sent():
    html = filled()
    assert '<input type="radio" name="womac-P1" value="0">' in html
    assert '<input type="radio" name="womac-P1" value="3" checked>' in html
    assert '<input type="radio" name="womac-P2" value="1">' in html  # nothing sent: none
    assert '<input type="checkbox" name="active" value="y">' in html  # unticked then
    assert '<input type="checkbox" name="co" value="physio" checked>' in html
    assert '<input type="checkbox" name="co" value="brace" checked>' in html
    assert '<option value="female">F</option>\n    <option value="male" selected>M</option>' in html
    assert '<option value="a">A</option>\n    <option value="b">B</option>' in html  # multiple


def test_textarea_text_is_replaced_and_escaped():
    html = filled()
    assert ('<textarea name="notes">typed &lt;script&gt;alert("x")&lt;/script&gt; &amp; more'
            '</textarea>') in html


def test_csrf_token_password_disabled_buttons_and_other_forms_are_left_alone():
    html = filled()
    assert 'name="csrf_token" type="hidden" value="FRESH"' in html
    assert 'value="T0"' in html
    assert 'name="current_password" value=""' in html
    assert "secret" not in html
    assert 'name="locked" value="keep" disabled' in html
    assert 'name="submit" value="Save"' in html
    assert 'name="note" value="sign-out form"' in html  # the form posting elsewhere


def test_everything_else_is_unchanged_byte_for_byte():
    html = filled()
    assert html.startswith("<!doctype html><html><body>\n<form method=\"post\" action=\"/logout\">")
    assert ('<p>Text with &amp; entities &lt;b&gt; and a <a href="/x?a=1&amp;b=2">link</a>.</p>'
            in html)
    assert fill_forms(PAGE, page="/p", action_path="/elsewhere", fields=FIELDS) == PAGE


def test_a_form_with_an_explicit_action_on_another_page_is_filled():
    page = '<form method="post" action="/followup/visits/3/not-applicable"><input name="r"></form>'
    html = fill_forms(page, page="/followup/visits/3",
                      action_path="/followup/visits/3/not-applicable", fields=[("r", "moved")])
    assert '<input name="r" value="moved">' in html
