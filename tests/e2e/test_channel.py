"""The channel (threat model T5): the deploy guide's confirmation makes an unsubscribe need the
subscription owner's signature. moto confirms any token and keeps no flag, so the request the
script sends is read on its way out, then answered by moto's SNS."""

from __future__ import annotations

import importlib.util
import urllib.parse

import pytest
from harness.constants import ROOT

spec = importlib.util.spec_from_file_location(
    "confirm_subscription", ROOT / "scripts" / "confirm-subscription.py")
confirm_subscription = importlib.util.module_from_spec(spec)
spec.loader.exec_module(confirm_subscription)


def sns_as_aws_answers(h):
    """An SNS client on moto whose ConfirmSubscription answers with the subscription it
    confirmed, as AWS does (moto answers a made-up ARN): an email subscription of the
    notification topic, made for the test."""
    sns = h.stack.client("sns")
    subscribed = sns.subscribe(TopicArn=h.stack.topic_arn, Protocol="email",
                               Endpoint="security-team@example.com",
                               ReturnSubscriptionArn=True)["SubscriptionArn"]

    def the_confirmed_one(parsed, **_):
        parsed["SubscriptionArn"] = subscribed
    sns.meta.events.register("after-call.sns.ConfirmSubscription", the_confirmed_one)
    return sns, subscribed


def confirmation_link(h, token: str) -> str:
    return ("https://sns.us-east-1.amazonaws.com/confirmation.html?"
            + urllib.parse.urlencode({"TopicArn": h.stack.topic_arn, "Token": token,
                                      "Endpoint": "security-team@example.com"}))


def test_the_confirmation_is_sent_with_authenticate_on_unsubscribe(h):
    sns, subscribed = sns_as_aws_answers(h)
    sent = []
    sns.meta.events.register("before-send.sns.ConfirmSubscription",
                             lambda request, **_: sent.append(request.body))
    token = "2336412f37fb687f5d51e6e2425dacbba9a2cbe87cfb9f8e2a1b7fb0bd0f17bf"
    arn = confirm_subscription.confirm(confirmation_link(h, token), client=sns)
    assert arn == subscribed, arn
    (body,) = sent
    form = urllib.parse.parse_qs(body.decode() if isinstance(body, bytes) else body)
    assert form["AuthenticateOnUnsubscribe"] == ["true"], form
    assert form["Token"] == [token] and form["TopicArn"] == [h.stack.topic_arn], form


def test_a_subscription_confirmed_before_without_authentication_is_not_reported_safe(h):
    """A mail scanner opened the confirmation link first: SNS then reports the subscription
    ConfirmationWasAuthenticated=false, and the script says what to do instead of claiming
    that only its owner can unsubscribe it. (moto always says true: the answer is rewritten
    on its way back, the request itself going to moto.)"""
    sns, _ = sns_as_aws_answers(h)

    def unauthenticated(parsed, **_):
        parsed["Attributes"]["ConfirmationWasAuthenticated"] = "false"
    sns.meta.events.register("after-call.sns.GetSubscriptionAttributes", unauthenticated)
    with pytest.raises(confirm_subscription.ConfirmedUnauthenticated, match="subscribe the address again"):
        confirm_subscription.confirm(confirmation_link(h, "0" * 64), client=sns)


@pytest.mark.parametrize("link, problem", [
    ("http://sns.us-east-1.amazonaws.com/confirmation.html?TopicArn=arn:aws:sns:us-east-1:1:t&Token=x",
     "is http URL, not https"),
    ("https://sns.us-east-1.amazonaws.com/confirmation.html?Token=x", "one TopicArn, it has 0"),
    ("https://sns.us-east-1.amazonaws.com/confirmation.html?TopicArn=arn:aws:sns:us-east-1:1:t",
     "one Token, it has 0"),
    ("https://sns.us-east-1.amazonaws.com/?TopicArn=arn:aws:iam::1:role/t&Token=x",
     "not an SNS topic ARN"),
])
def test_a_link_that_is_not_a_confirmation_link_is_refused_naming_why(link, problem):
    with pytest.raises(confirm_subscription.BadLink, match=problem):
        confirm_subscription.read_link(link)
