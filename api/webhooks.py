"""Delivering watch alerts to webhooks, from the outbox a publish writes (``watch_alerts``).

Each due alert is POSTed as JSON, signed with HMAC-SHA256 of the body under the watch's own
secret (``X-Bridge-Signature: sha256=<hex>``) and named by ``X-Bridge-Alert`` (its id). It is
marked delivered only after a 2xx answer; otherwise it is tried again after
``webhook_backoff_s`` doubled at each try, and shown as failed after ``webhook_max_attempts``.
An alert sent just before a crash, and not yet marked, is sent again after the restart:
delivery is at least once, and exactly once for a receiver that keeps the alert ids it saw.
A webhook never goes to this machine or its private network unless ``webhook_allow_private``
says it may: checked when the watch is made and again at each delivery (a name can move).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request

from api.security import shown_as_answered
from api.watch_models import AlertOut
from search.knowledge_base import KnowledgeBase
from search.settings import Settings
from search.sql import utc_now
from search.watches import Alert

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Bridge-Signature"
ALERT_HEADER = "X-Bridge-Alert"


def private_target(url: str) -> str | None:
    """Why ``url`` points inside this machine or its network (loopback, private, link-local,
    reserved addresses), or None: a key holder must not make the server POST to what only it
    can reach. A name that does not resolve here is not judged (its delivery will fail)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            return f"{host} is {address}, not a public address (webhook_allow_private)"
    return None


def signature(secret: str, body: bytes) -> str:
    """The signature header's value of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """One background thread that delivers due alerts, oldest first."""

    def __init__(self, kb: KnowledgeBase, settings: Settings) -> None:
        self.kb = kb
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.webhook_poll_s):
            try:
                self.deliver_due()
            except Exception:  # the next round tries again; the server keeps serving
                log.exception("delivering webhooks")

    def deliver_due(self) -> int:
        """Try every due alert once; returns how many were delivered."""
        delivered = 0
        for alert, chunk, document in self.kb.watcher.due_webhooks(utc_now()):
            watch = self.kb.watcher.watch(alert.watch_id)
            if watch is None or not watch.webhook_url:
                continue
            shown = AlertOut.of(alert, chunk, document)
            with shown_as_answered(self.kb):
                body = json.dumps(shown.model_dump(mode="json")).encode()
            error = self._post(watch.webhook_url, body, watch.secret, alert.id)
            delivered += error is None
            self._record(alert, error)
        return delivered

    def _post(self, url: str, body: bytes, secret: str, alert_id: int) -> str | None:
        """None once the receiver answered 2xx, else why not."""
        if not self.settings.webhook_allow_private and (refused := private_target(url)):
            return refused
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body),
            ALERT_HEADER: str(alert_id), "User-Agent": "knowledge-bridge-webhooks"})
        try:
            with urllib.request.urlopen(request, timeout=self.settings.webhook_timeout_s):
                return None
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return str(getattr(exc, "reason", exc))[:300]

    def _record(self, alert: Alert, error: str | None) -> None:
        if error is None:
            self.kb.watcher.record_attempt(alert.id, "delivered")
            return
        if alert.attempts + 1 >= self.settings.webhook_max_attempts:
            log.warning("webhook of alert %s failed for good: %s", alert.id, error)
            self.kb.watcher.record_attempt(alert.id, "failed", error)
            return
        wait = self.settings.webhook_backoff_s * 2 ** alert.attempts
        due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
        self.kb.watcher.record_attempt(alert.id, "pending", error,
                                       due.isoformat(timespec="seconds"))
