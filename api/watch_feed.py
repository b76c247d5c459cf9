"""A watch's alerts as an Atom feed (feedgen), each entry with both passages and a link to
the document's page."""

from __future__ import annotations

import datetime as dt
from html import escape

from feedgen.feed import FeedGenerator

from api.watch_models import AlertOut
from search.watches import Watch


def _entry_html(alert: dict) -> str:
    found, document = alert["found"], alert["document"]
    return (f"<p><strong>Watched</strong> ({escape(alert['watched']['language'] or '')}):"
            f" {escape(alert['watched']['text'])}</p>"
            f"<p><strong>{escape(document['office'] or '')}</strong> "
            f"({escape(found['language'] or '')}), {escape(document['title'])}:"
            f" {escape(found['text'])}</p>"
            f"<p>Similarity {alert['similarity']:.3f}</p>")


def atom_feed(watch: Watch, alerts: list[AlertOut], base_url: str) -> bytes:
    """The feed: one entry per alert, newest first, ids stable across reads."""
    feed = FeedGenerator()
    feed.id(f"{base_url}/watches/{watch.id}")
    feed.title(f"Knowledge Bridge watch {watch.id}: close findings of other offices")
    feed.link(href=f"{base_url}/watches/{watch.id}/feed", rel="self")
    feed.author({"name": "Knowledge Bridge"})
    feed.updated(alerts[0].matched_at if alerts else watch.created_at)
    for alert in reversed(alerts):  # feedgen puts the last added first
        shown = alert.model_dump(mode="json")
        entry = feed.add_entry()
        entry.id(f"{base_url}/watches/{watch.id}/alerts/{alert.id}")
        entry.title(f"{shown['document']['office'] or 'Another office'}: "
                    f"{shown['document']['title']}")
        entry.link(href=f"{base_url}/view/{shown['document']['id']}", rel="alternate")
        entry.updated(dt.datetime.fromisoformat(alert.matched_at))
        entry.content(_entry_html(shown), type="html")
    return feed.atom_str(pretty=True)
