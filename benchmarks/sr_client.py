"""The self-report benchmark's patients: an HTTP client with its own cookie jar, a form
walker that answers a self-report as rendered, and a replayer for the 200 concurrent ones.

``walk`` answers one (warm-up) patient's form the way a browser would: it reads each page's
form (bs4), keeps hidden fields (the CSRF token), answers every question (a middle answer
choice, 40 on a 0–100 line, 4 on a 0–10 rating) and presses the button that moves on
(next, review, submit), following redirects, until the thank-you page.  The requests it
made become a script; ``replay`` runs that script for another patient's link (its token in
the paths, its session's CSRF token in the fields), checking every status against the walk.
Only a regular expression is applied to each replayed page, so the client's own CPU use
(same 2 cores as the server) stays small.
"""

from __future__ import annotations

import http.client
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

TOKEN_IN_PATH = re.compile(r"/r/([A-Za-z0-9_-]{43})")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
# Buttons that move the form on, best first (English and Spanish labels, or names/values).
FORWARD = re.compile(r"submit|send|enviar|review|revis|next|siguiente|continu|save|guardar",
                     re.IGNORECASE)
BACKWARD = re.compile(r"back|atr[aá]s|previous|anterior|language|idioma|english|español|"
                      r"sign|skip|omitir|saltar", re.IGNORECASE)


@dataclass
class Reply:
    status: int
    location: str | None
    body: str
    seconds: float


@dataclass
class Client:
    """One patient's browser: a cookie jar, a connection per request (sync workers)."""

    host: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    timings: list[tuple[str, float, int]] = field(default_factory=list)  # kind, s, status

    def request(self, method: str, path: str, fields: list[tuple[str, str]] | None = None,
                kind: str = "page") -> Reply:
        headers = {"Accept-Language": "es,en;q=0.5"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", errors="replace")
        finally:
            connection.close()
        seconds = time.perf_counter() - started
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or "expires=thu, 01 jan 1970" in header.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        self.timings.append((kind, seconds, response.status))
        location = response.getheader("Location")
        return Reply(response.status, location, text, seconds)

    def follow(self, reply: Reply, base: str) -> tuple[Reply, list[str]]:
        """Follow redirects with GET; return the final reply and the paths visited."""
        visited = []
        while reply.status in (301, 302, 303, 307) and reply.location:
            path = _path(urljoin(base, reply.location))
            visited.append(path)
            reply = self.request("GET", path)
        return reply, visited


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Step:
    """One request of the script: GET a path or POST fields to it; expected status."""

    method: str
    path: str
    fields: list[tuple[str, str]] | None
    status: int
    submit: bool = False


def _answer(control: object) -> str | None:
    """A plausible answer for an input the walker meets (None: leave it out)."""
    from bs4 import Tag

    assert isinstance(control, Tag)
    kind = str(control.get("type") or "text").lower()
    name = str(control.get("name") or "")
    if kind in {"range", "number"}:
        low, high = float(str(control.get("min") or 0)), float(str(control.get("max") or 100))
        return str(int(low + (high - low) * 0.4))
    if kind == "text" and name.count(".") == 1:
        return "40"
    return None


def fill_form(html: str, base: str) -> tuple[str, list[tuple[str, str]], bool] | None:
    """(action path, fields, is the submission) of the page's forward form, or None."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    best = None
    for form in soup.find_all("form"):
        if str(form.get("method") or "get").lower() != "post":
            continue
        buttons = [b for b in form.find_all(["button", "input"])
                   if str(b.get("type") or ("submit" if b.name == "button" else "")).lower()
                   == "submit"]
        for button in buttons:
            label = " ".join([button.get_text(" ", strip=True), str(button.get("value") or ""),
                              str(button.get("name") or "")])
            if FORWARD.search(label) and not BACKWARD.search(label):
                rank = 0 if re.search(r"submit|send|enviar", label, re.I) else 1
                if best is None or rank < best[0]:
                    best = (rank, form, button)
                break
    if best is None:
        return None
    rank, form, button = best
    fields: list[tuple[str, str]] = []
    radios: dict[str, list[str]] = {}
    for control in form.find_all(["input", "select", "textarea"]):
        name = str(control.get("name") or "")
        if not name:
            continue
        kind = str(control.get("type") or "").lower()
        if control.name == "select":
            options = [str(o.get("value") or "") for o in control.find_all("option")]
            chosen = [str(o.get("value") or "") for o in control.find_all("option")
                      if o.has_attr("selected")]
            fields.append((name, (chosen or options or [""])[0]))
        elif kind == "radio":
            radios.setdefault(name, []).append(str(control.get("value") or ""))
        elif kind == "checkbox":
            continue  # "skip this question": the walker answers instead
        elif kind == "hidden":
            fields.append((name, str(control.get("value") or "")))
        elif kind in {"submit", "button", "reset", "image"}:
            continue
        else:
            answer = _answer(control)
            if answer is not None:
                fields.append((name, answer))
    for name, values in radios.items():
        answerable = [value for value in values if value not in {"", "none", "skip"}]
        fields.append((name, answerable[len(answerable) // 2] if answerable else values[0]))
    if button.get("name"):
        fields.append((str(button["name"]), str(button.get("value") or "")))
    action = _path(urljoin(base, str(form.get("action") or base)))
    return action, fields, rank == 0


START = re.compile(r"^\s*(start|empezar|comenzar|continue|continuar)\b", re.IGNORECASE)


def start_link(html: str, base: str) -> str | None:
    """The path of the page's Start / Continue link (the start page has no form)."""
    from bs4 import BeautifulSoup

    for anchor in BeautifulSoup(html, "html.parser").find_all("a", href=True):
        if START.search(anchor.get_text(" ", strip=True)):
            return _path(urljoin(base, str(anchor["href"])))
    return None


def walk(client: Client, url: str, *, thanks: re.Pattern[str], max_steps: int = 30) -> list[Step]:
    """Answer the whole form behind ``url`` as rendered; return the requests as a script."""
    base = url
    steps: list[Step] = []
    path = _path(url)
    reply = client.request("GET", path)
    steps.append(Step("GET", path, None, reply.status))
    reply, visited = client.follow(reply, base)
    steps += [Step("GET", p, None, 200) for p in visited]
    for _ in range(max_steps):
        if reply.status != 200:
            raise RuntimeError(f"walk: status {reply.status} at {steps[-1].path}")
        if thanks.search(reply.body):
            return steps
        found = fill_form(reply.body, urljoin(base, steps[-1].path))
        if found is None and (target := start_link(reply.body, base)) is not None:
            reply = client.request("GET", target)
            steps.append(Step("GET", target, None, reply.status))
            continue
        if found is None:
            raise RuntimeError(f"walk: no forward form at {steps[-1].path}:\n{reply.body[:2000]}")
        action, fields, is_submit = found
        reply = client.request("POST", action, fields, kind="submit" if is_submit else "page")
        steps.append(Step("POST", action, fields, reply.status, submit=is_submit))
        reply, visited = client.follow(reply, base)
        steps += [Step("GET", p, None, 200) for p in visited]
    raise RuntimeError(f"walk: no thank-you page after {max_steps} forms")


def split(script: list[Step]) -> tuple[list[Step], list[Step]]:
    """(filling in: up to the review page; sending: the submit POST and what follows)."""
    at = next(number for number, step in enumerate(script) if step.submit)
    return script[:at], script[at:]


@dataclass
class Replayer:
    """Runs parts of a recorded script for another link (its token, its CSRF token)."""

    client: Client
    token: str
    recorded: str
    csrf: str = ""

    def run(self, steps: list[Step]) -> list[str]:
        """Run the steps; return the problems (empty: every status as recorded)."""
        for step in steps:
            path = step.path.replace(self.recorded, self.token)
            fields = None
            if step.fields is not None:
                fields = [(name, self.csrf if name == "csrf_token" and self.csrf else value)
                          for name, value in step.fields]
            reply = self.client.request(step.method, path, fields,
                                        kind="submit" if step.submit else "page")
            if reply.status != step.status:
                return [f"{step.method} {path}: {reply.status} (recorded {step.status})"]
            found = CSRF.search(reply.body)
            if found:
                self.csrf = found.group(1) or found.group(2)
        return []


def recorded_token(script: list[Step]) -> str:
    return next(m.group(1) for step in script if (m := TOKEN_IN_PATH.search(step.path)))
