"""A person at the approval page: the emailed link, opened over HTTP on the local approval
server (what API Gateway does in AWS), read, and the page's own form posted with a button
pressed. Everything sent and received is kept (`texts`, `keys`) for the no-token-leak check."""

from __future__ import annotations

import re
import urllib.parse

from harness import PageParser, browser_request, form_fields

# What the tests' "browser" sends; the outcome must carry it as the decision's context.
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) iam-sentinel-e2e/1.0"
LINK = re.compile(r"Review and decide: (\S+)")
KEY_CHARS = re.compile(r"^[A-Za-z0-9_-]{43}$")
ANSWERS = {"approve": "Approved", "deny": "Denied"}


class Answer:
    def __init__(self, url: str, status: int, headers: dict[str, str], body: str):
        self.url, self.status, self.headers, self.body = url, status, headers, body
        self.page = PageParser(body) if headers.get("content-type", "").startswith("text/html") else None

    @property
    def h1(self) -> str | None:
        return self.page.h1 if self.page is not None else None

    def __repr__(self):
        return f"HTTP {self.status} {self.page.h1 if self.page else self.body[:80]!r}"


class Person:
    """Mixed into the Harness: needs its stack, approval_email, status, states_entered, and
    the `texts` and `keys` it keeps."""

    def approval_link(self, arn: str) -> str:
        """The link in the execution's approval email, checked against the contract:
        <APPROVAL_URL>/approvals/<execution name>?key=<43 characters>."""
        email = self.approval_email(arn)
        m = LINK.search(email)
        assert m, f"no link in the approval email: {email[:400]!r}"
        link = m.group(1)
        self.texts.append(("approval link", link))
        name = arn.rsplit(":", 1)[1]
        prefix = f"{self.stack.approval_url}/approvals/{urllib.parse.quote(name, safe='')}?key="
        assert link.startswith(prefix), f"link {link.split('?')[0]}?... does not start with {prefix}"
        key = link.split("?key=", 1)[1]
        assert KEY_CHARS.match(key), f"the link's key is not 43 base64url characters ({len(key)})"
        self.keys.add(key)
        return link

    def http(self, method: str, url: str, form: list[tuple[str, str]] | None = None) -> Answer:
        """One request as a browser makes it (our user agent; a form as
        application/x-www-form-urlencoded); everything sent and received is kept."""
        path = urllib.parse.urlsplit(url).path
        if form is not None:
            self.texts.append((f"form posted to {path}", urllib.parse.urlencode(form)))
        self.texts.append(("URL", url))
        status, got, out = browser_request(method, url, form, user_agent=USER_AGENT, timeout=60)
        self.texts.append((f"{method} {path} page", out))
        return Answer(url, status, got, out)

    def open_page(self, link: str, names: list[str]) -> tuple[Answer, dict]:
        """GET the link: the review page (naming `names`), its headers, and its one decision
        form, whose hidden key is the link's and whose action carries no query string."""
        page = self.http("GET", link)
        assert page.status == 200, f"GET of the link: {page!r}, expected 200"
        assert page.headers.get("cache-control") == "no-store", \
            f"cache-control {page.headers.get('cache-control')!r}, expected no-store"
        csp = page.headers.get("content-security-policy", "")
        assert "default-src 'none'" in csp, f"content-security-policy {csp!r}"
        missing = [name for name in names if name not in page.body]
        assert not missing, f"the page does not name {missing}"
        forms = page.page.post_forms() if page.page else []
        assert len(forms) == 1, f"the page has {len(forms)} POST forms, expected 1"
        form = forms[0]
        hidden_key = next((i.get("value") for i in form["inputs"] if i.get("name") == "key"), None)
        assert hidden_key == link.split("?key=", 1)[-1], "the form's hidden key is not the link's"
        action = form["action"] or ""
        assert "?" not in action and "key=" not in action, \
            f"the form's action carries a query string: {action!r}"
        return page, form

    def submit(self, page: Answer, form: dict, decision: str, comment: str | None = None,
               key: str | None = None) -> Answer:
        """Posts the page's form as a browser does when `decision`'s button is pressed; `key`
        replaces the hidden key (to forge one)."""
        return self.http("POST", urllib.parse.urljoin(page.url, form["action"] or ""),
                         form_fields(form, decision, comment, key))

    def decide_on_page(self, arn: str, decision: str, names: list[str],
                       comment: str | None = None) -> dict:
        """What a person does: opens the emailed link, reads the page, presses a button; the
        answer is the page for that decision."""
        link = self.approval_link(arn)
        page, form = self.open_page(link, names)
        answer = self.submit(page, form, decision, comment)
        assert answer.status == 200 and answer.h1 == ANSWERS[decision], \
            f"POST {decision}: {answer!r}, expected 200 {ANSWERS[decision]!r}"
        return {"link": link, "page": page, "form": form, "answer": answer, "comment": comment}
