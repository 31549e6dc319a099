"""The M3 simulator's outbound BODs: what ION would deliver to us when M3 changes something.

M3 publishes BODs through ION on state changes (research notes §4.2/§4.4); the simulator does the
same for the three the integration listens to: SyncShipment when a delivery is reported,
SyncInvoice when a delivery is invoiced, SyncInventoryCount when balances change. Events are taken
after their MI transaction committed, queued, and sent one by one from a background thread as IMS
v3 multipart messages (`m3amazon.m3.ion.ims.encode_message`, the same wire format our outbound
client uses), so a slow or absent receiver never slows an MI call. A send that fails is retried
with backoff, then counted as failed (visible in `/_sim/ims`).
"""

from __future__ import annotations

import itertools
import logging
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from m3amazon.m3.ion import bod
from m3amazon.m3.ion.ims import DEFLATE, ImsParameters, encode_message
from m3amazon.sim.m3.mi import SimEvent

log = logging.getLogger(__name__)


@dataclass
class ImsTarget:
    """Where the simulator delivers its BODs, and how it authenticates there."""

    #: The receiver's IMS service root (`.../service`); messages go to `{url}/v3/multipartMessage`.
    url: str
    token: str | None = None
    username: str | None = None
    password: str | None = None
    from_logical_id: str = "lid://infor.m3.m3"
    tenant: str = "SIM"
    accounting_entity: str = "100_AAA"
    location: str = ""
    deflate: bool = False
    attempts: int = 5
    backoff_s: float = 0.2
    verify: Any = True
    #: The ION document flow's filter for SyncSalesOrder: only orders of these order types are
    #: sent (None: every order). Multi-Channel Fulfillment listens to its own order types only.
    sales_order_types: list[str] | None = field(default_factory=lambda: ["MCF"])
    #: Share of messages ION delivers twice (the same message id and BOD), from a seeded generator.
    duplicate_share: float = 0.0
    seed: int = 0

    def auth(self) -> tuple[dict[str, str], httpx.BasicAuth | None]:
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}, None
        if self.username is not None:
            return {}, httpx.BasicAuth(self.username, self.password or "")
        return {}, None


@dataclass
class EmitterStats:
    queued: int = 0
    sent: int = 0
    failed: int = 0
    last_error: str | None = None
    by_document: dict[str, int] = field(default_factory=dict)


class BodEmitter:
    """Queue of events -> BODs -> IMS messages, on one background thread."""

    def __init__(self, target: ImsTarget) -> None:
        self.target = target
        self.stats = EmitterStats()
        self._queue: queue.Queue[SimEvent | None] = queue.Queue()
        self._variation = itertools.count(1)
        self._rng = random.Random(target.seed)
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="m3-sim-bods", daemon=True)
        self._thread.start()

    def _wanted(self, event: SimEvent) -> bool:
        types = self.target.sales_order_types
        if event.noun != "SalesOrder" or types is None:
            return True
        return dict(event.attributes).get("ORTP") in types

    def __call__(self, events: list[SimEvent]) -> None:
        events = [event for event in events if self._wanted(event)]
        if not events:
            return
        with self._lock:
            self.stats.queued += len(events)
            self._idle.clear()
        for event in events:
            self._queue.put(event)

    def stop(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued event was sent or given up (tests and the demo use it)."""
        return self._idle.wait(timeout)

    def document(self, event: SimEvent) -> tuple[ImsParameters, bytes]:
        target = self.target
        variation = next(self._variation)
        payload = bod.encode(
            event.verb,
            list(event.documents),
            sender_logical_id=target.from_logical_id,
            tenant_id=target.tenant,
            accounting_entity=target.accounting_entity,
            location_id=target.location,
            component_id="M3",
            bod_id_value=bod.bod_id(
                target.tenant,
                target.accounting_entity,
                target.location,
                event.document_id,
                event.noun,
                event.verb,
                variation,
            ),
        )
        parameters = ImsParameters(
            document_name=event.verb + event.noun,
            from_logical_id=target.from_logical_id,
            message_id=f"m3sim-{uuid.uuid4().hex}",
            encoding=DEFLATE if target.deflate else "NONE",
            accounting_entity=target.accounting_entity or None,
            document_id=event.document_id,
            variation_id=str(variation),
        )
        return parameters, payload

    def _run(self) -> None:
        headers, auth = self.target.auth()
        with httpx.Client(timeout=10.0, verify=self.target.verify) as http:
            while True:
                event = self._queue.get()
                if event is None:
                    return
                try:
                    self._send(http, headers, auth, event)
                finally:
                    with self._lock:
                        if self._queue.empty():
                            self._idle.set()

    def _send(
        self, http: httpx.Client, headers: dict[str, str], auth: httpx.BasicAuth | None, event: SimEvent
    ) -> None:
        parameters, payload = self.document(event)
        content_type, body = encode_message(parameters, payload)
        copies = 2 if self.target.duplicate_share and self._rng.random() < self.target.duplicate_share else 1
        for _ in range(copies):
            self._deliver(http, headers, auth, parameters, content_type, body)

    def _deliver(
        self,
        http: httpx.Client,
        headers: dict[str, str],
        auth: httpx.BasicAuth | None,
        parameters: ImsParameters,
        content_type: str,
        body: bytes,
    ) -> None:
        error = "not sent"
        for attempt in range(self.target.attempts):
            if attempt:
                time.sleep(self.target.backoff_s * 2 ** (attempt - 1))
            try:
                response = http.post(
                    f"{self.target.url.rstrip('/')}/v3/multipartMessage",
                    content=body,
                    headers={**headers, "Content-Type": content_type},
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}"
                continue
            if response.is_success:
                with self._lock:
                    self.stats.sent += 1
                    name = parameters.document_name
                    self.stats.by_document[name] = self.stats.by_document.get(name, 0) + 1
                return
            error = f"HTTP {response.status_code}"
            if 400 <= response.status_code < 500 and response.status_code != 429:
                break  # the receiver refuses this message; sending it again will not help
        log.warning("the M3 simulator could not deliver %s: %s", parameters.document_name, error)
        with self._lock:
            self.stats.failed += 1
            self.stats.last_error = f"{parameters.document_name}: {error}"
