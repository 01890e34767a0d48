#!/usr/bin/env python3
"""Confirms an SNS email subscription so that only its owner can unsubscribe it.

    make confirm-subscription LINK='https://sns.us-east-1.amazonaws.com/confirmation.html?TopicArn=...&Token=...'

The link is the one in AWS's "Subscription Confirmation" email: copy it, do not click it.
Clicking confirms without authentication, and then anyone who holds the email (a forwarded copy,
a mail scanner following its links) can unsubscribe the address with the link at the bottom of
every notification, silently stopping approval requests and alarms. This calls
ConfirmSubscription with AuthenticateOnUnsubscribe=true instead, with your AWS credentials
(the AWS_* environment or profile, as boto3 finds them).
"""

from __future__ import annotations

import sys
import urllib.parse

import boto3


class BadLink(ValueError):
    pass


def read_link(link: str) -> tuple[str, str, str]:
    """(region, topic ARN, token) from a confirmation link."""
    parts = urllib.parse.urlsplit(link.strip())
    query = urllib.parse.parse_qs(parts.query)
    topics, tokens = query.get("TopicArn", []), query.get("Token", [])
    if parts.scheme != "https":
        raise BadLink(f"the link is {parts.scheme or 'no'} URL, not https: copy it from the email")
    for name, values in (("TopicArn", topics), ("Token", tokens)):
        if len(values) != 1:
            raise BadLink(f"the link needs one {name}, it has {len(values)}: copy the whole "
                          "link from the email")
    topic = topics[0]
    fields = topic.split(":")
    if len(fields) != 6 or fields[:3] != ["arn", fields[1], "sns"] or not fields[3]:
        raise BadLink(f"TopicArn {topic!r} is not an SNS topic ARN")
    return fields[3], topic, tokens[0]


class ConfirmedUnauthenticated(RuntimeError):
    """The subscription had been confirmed before, without authentication."""


def confirm(link: str, client=None) -> str:
    """Confirms the subscription authenticated; returns its ARN. Raises ConfirmedUnauthenticated
    when SNS says it was already confirmed without (a click on the link, or a mail scanner that
    opened it first): then anyone holding an email can still unsubscribe it."""
    region, topic, token = read_link(link)
    sns = client or boto3.client("sns", region_name=region)
    answer = sns.confirm_subscription(TopicArn=topic, Token=token,
                                      AuthenticateOnUnsubscribe="true")
    arn = answer["SubscriptionArn"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    if str(attributes.get("ConfirmationWasAuthenticated")).lower() != "true":
        raise ConfirmedUnauthenticated(
            f"{arn} was confirmed without authentication before (the link was opened, by a "
            "person or a mail scanner): unsubscribe it (aws sns unsubscribe --subscription-arn "
            "...), subscribe the address again (aws sns subscribe --protocol email ...), and run "
            "this with the new confirmation link before anything opens it")
    return arn


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].strip():
        print("usage: make confirm-subscription LINK='<the link from the confirmation email>'",
              file=sys.stderr)
        return 2
    try:
        arn = confirm(argv[1])
    except BadLink as problem:
        print(f"confirm-subscription: {problem}", file=sys.stderr)
        return 2
    except ConfirmedUnauthenticated as problem:
        print(f"confirm-subscription: {problem}", file=sys.stderr)
        return 1
    print(f"confirmed {arn}: only its owner (signed AWS requests) can unsubscribe it")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
