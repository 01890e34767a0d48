"""Talking to the approval page as a browser does, and reading what it answers: what the demo,
the e2e tests and the bench share."""

from __future__ import annotations

import html.parser
import http.client
import urllib.parse


def browser_request(method: str, url: str, form: list[tuple[str, str]] | None = None, *,
                    user_agent: str, timeout: float = 120) -> tuple[int, dict[str, str], str]:
    """One request as a browser makes it (a form as application/x-www-form-urlencoded, with
    its Origin): (status, headers with lower-case names, repeated ones joined, body text)."""
    split = urllib.parse.urlsplit(url)
    headers = {"User-Agent": user_agent, "Accept": "text/html"}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Origin"] = f"{split.scheme}://{split.netloc}"
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=timeout)
    try:
        conn.request(method, split.path + (f"?{split.query}" if split.query else ""),
                     body=body, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        got: dict[str, str] = {}
        for k, v in resp.getheaders():
            got[k.lower()] = f"{got[k.lower()]}, {v}" if k.lower() in got else v
        return resp.status, got, text
    finally:
        conn.close()


def form_fields(form: dict, decision: str, comment: str | None = None,
                key: str | None = None) -> list[tuple[str, str]]:
    """What a browser posts when `decision`'s button of the page's form is pressed: the named
    inputs (the hidden key; `key` replaces it, to forge one), the textarea (the comment), the
    pressed button. ValueError when the form has no single button for `decision`."""
    fields = []
    for i in form["inputs"]:
        if i.get("name") and i.get("type", "text") in ("hidden", "text"):
            value = key if (key is not None and i["name"] == "key") else i.get("value", "")
            fields.append((i["name"], value))
    for t in form["textareas"]:
        if t.get("name"):
            fields.append((t["name"], comment or ""))
    buttons = [b for b in form["buttons"] if b.get("value") == decision and b.get("name")]
    if len(buttons) != 1:
        raise ValueError(f"the form has no single {decision!r} button: {form['buttons']}")
    fields.append((buttons[0]["name"], decision))
    return fields


class PageParser(html.parser.HTMLParser):
    """The title, h1 and forms (inputs, textareas, buttons) of an approval API page: what the
    demo, the e2e tests and the bench read, as a browser would."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.h1 = ""
        self.forms: list[dict] = []
        self._form = None
        self._in = None
        self.feed(text)
        self.close()

    def post_forms(self) -> list[dict]:
        return [f for f in self.forms if f["method"] == "post"]

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {"method": (a.get("method") or "get").lower(), "action": a.get("action"),
                          "inputs": [], "textareas": [], "buttons": []}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "button"):
            self._form[tag + "s"].append(a)
        if tag in ("title", "h1"):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1 += data
