"""Settings: environment variables (prefix ``M3AMAZON_``, nesting with ``__``) over a YAML file.

Precedence, highest first: values passed in code, environment variables, secret files
(``/run/secrets`` style, see ``*_file`` fields), the YAML file named by ``--config`` or
``M3AMAZON_CONFIG``, then the defaults below. The defaults run the product against the loopback
simulators, so a fresh clone works without any file.

Secrets (LWA client secret, refresh token, M3 password) are ``SecretStr``: they never appear in
logs, reprs or ``config check`` output. Each can also be read from a file (``*_file``) so that
container secrets need no environment variable.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

_CONFIG_FILE: ContextVar[Path | None] = ContextVar("m3amazon_config_file", default=None)

Region = Literal["NA", "EU", "FE"]
FulfillmentChannelName = Literal["AMAZON", "MERCHANT"]


def read_secret(value: SecretStr | None, file: Path | None, what: str) -> str | None:
    """The secret's value, from the setting itself or else from its file (stripped of a newline)."""
    if value is not None and value.get_secret_value():
        return value.get_secret_value()
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read {what} from {file}: {exc.strerror}") from exc
    return None


class SqsSettings(BaseModel):
    """Where SP-API notifications arrive. Credentials come from the usual AWS chain unless set."""

    queue_url: str | None = None
    #: Override for a local SQS server (moto in the demo and the tests).
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    wait_time_s: int = Field(default=20, ge=0, le=20)
    visibility_timeout_s: int = Field(default=120, ge=5)
    batch_size: int = Field(default=10, ge=1, le=10)


class PlanSetting(BaseModel):
    """A usage plan given in the settings (a seller whose plan is bigger than the models' default)."""

    rate: float = Field(gt=0, description="requests per second")
    burst: int = Field(ge=1)


class GovernorSettings(BaseModel):
    """The rate governor in front of every SP-API call (amazon/governor.py)."""

    #: Where the token buckets live: "auto" = in PostgreSQL when database_url is PostgreSQL (every
    #: worker shares them), in the process otherwise; "process" or "database" to insist.
    shared: Literal["auto", "process", "database"] = "auto"
    #: Share of Amazon's rate the buckets refill at, so network jitter does not become a 429.
    rate_safety: float = Field(default=0.95, gt=0, le=1)
    #: Follow the rate Amazon reports in x-amzn-RateLimit-Limit when it differs from the plan.
    adapt_to_header: bool = True
    #: Usage plans by operation ("getOrder" or "getOrder@2026-01-01"), over the models' defaults.
    plans: dict[str, PlanSetting] = Field(default_factory=dict)
    #: Plan for an operation the models give no plan for.
    default_rate: float = Field(default=1.0, gt=0)
    default_burst: int = Field(default=1, ge=1)
    #: 429s in a row for one call before it fails with Throttled (the flow then opens an incident).
    throttle_retries: int = Field(default=10, ge=0)
    #: Retries of one call after 500/502/503/504 or a timeout.
    server_retries: int = Field(default=3, ge=0)
    #: Backoff between those retries: min(backoff_max_s, backoff_base_s * 2**attempt), jittered.
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=60.0, gt=0)
    #: A call that would wait longer than this for a token fails with Throttled instead.
    max_wait_s: float = Field(default=900.0, gt=0)


class OrderSourceSettings(BaseModel):
    """How the order flow's fetches are scheduled over getOrder and searchOrders (amazon/order_source.py)."""

    #: Serve backlogs with searchOrders pages (100 orders per call) besides getOrder.
    search: bool = True
    #: Waiting changes needed before one searchOrders page is spent on them.
    search_min_batch: int = Field(default=20, ge=1, le=100)
    #: lastUpdatedAfter is the oldest waiting change minus this overlap.
    search_overlap_s: float = Field(default=10.0, ge=0)
    #: searchOrders sees changes only this long after they happen (Amazon: at least two minutes).
    search_lag_s: float = Field(default=125.0, ge=120)
    #: Orders fetched ahead for changes already queued are kept this long, at most this many.
    prefetch_ttl_s: float = Field(default=1800.0, gt=0)
    prefetch_max: int = Field(default=10_000, ge=0)


class PollSettings(BaseModel):
    """The catch-up poll: searchOrders by lastUpdatedAfter, for changes whose notification was lost."""

    enabled: bool = True
    #: Time between two polls (fleet-wide: the workers take turns through the database).
    interval_s: float = Field(default=600.0, ge=1)
    #: Each poll starts this long before where the last one ended.
    overlap_s: float = Field(default=600.0, ge=0)
    #: Each poll ends this long before now (Amazon: at least two minutes).
    settle_s: float = Field(default=125.0, ge=120)
    #: The first poll (no cursor yet) looks back this far.
    initial_lookback_s: float = Field(default=3600.0, ge=0)
    #: A worker that took a poll and died frees it after this long.
    lease_s: float = Field(default=900.0, ge=10)


class AmazonSettings(BaseModel):
    region: Region = "NA"
    #: Use Amazon's sandbox hosts instead of production (static sandbox responses only).
    sandbox: bool = False
    seller_id: str | None = None
    marketplaces: list[str] = Field(default_factory=lambda: ["ATVPDKIKX0DER"])
    lwa_client_id: str | None = None
    lwa_client_secret: SecretStr | None = None
    lwa_client_secret_file: Path | None = None
    refresh_token: SecretStr | None = None
    refresh_token_file: Path | None = None
    #: Override of the SP-API endpoint, e.g. https://127.0.0.1:8443 for the simulator.
    endpoint: str | None = None
    #: Override of the LWA token URL (default: Amazon's URL for the region).
    lwa_token_url: str | None = None
    #: Extra CA certificate(s) to trust for the SP-API and LWA hosts (the simulator's local CA).
    ca_bundle: Path | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    #: Datasets requested with getOrder (Orders API v2026-01-01 includedData).
    order_included_data: list[str] = Field(
        default_factory=lambda: ["BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "PROMOTION"]
    )
    sqs: SqsSettings = Field(default_factory=SqsSettings)
    governor: GovernorSettings = Field(default_factory=GovernorSettings)
    order_source: OrderSourceSettings = Field(default_factory=OrderSourceSettings)
    poll: PollSettings = Field(default_factory=PollSettings)

    def client_secret(self) -> str | None:
        return read_secret(self.lwa_client_secret, self.lwa_client_secret_file, "the LWA client secret")

    def refresh_token_value(self) -> str | None:
        return read_secret(self.refresh_token, self.refresh_token_file, "the LWA refresh token")


class ChannelDefaults(BaseModel):
    """M3 order header defaults for one fulfillment channel."""

    ortp: str = Field(max_length=3, description="Customer order type (OIS010)")
    whlo: str = Field(max_length=3, description="Warehouse")
    faci: str | None = Field(default=None, max_length=3, description="Facility")


class CircuitSettings(BaseModel):
    """The circuit breaker of the M3 connection (see m3amazon.m3.circuit)."""

    enabled: bool = True
    #: Consecutive transient failures (timeouts, 5xx, refused connections) that open the breaker.
    failure_threshold: int = Field(default=10, ge=1)
    #: First probe this long after opening; the wait doubles while probes fail, up to probe_max_s.
    probe_initial_s: float = Field(default=1.0, gt=0)
    probe_max_s: float = Field(default=60.0, gt=0)


class IonSettings(BaseModel):
    """ION messaging (IMS): BODs ION delivers to our endpoints, and BODs we send to ION."""

    #: How ION authenticates on our IMS endpoints (/service/...): a bearer token or basic auth.
    #: Without credentials the endpoints refuse every request.
    inbound_auth: Literal["bearer", "basic"] = "bearer"
    inbound_token: SecretStr | None = None
    inbound_token_file: Path | None = None
    inbound_username: str | None = None
    inbound_password: SecretStr | None = None
    inbound_password_file: Path | None = None
    #: Largest BOD accepted (bytes, after inflating); larger messages are refused with HTTP 413.
    max_message_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    #: Outbound: the IMS service root. Default in cloud mode: {iu}/{ti}/IONSERVICES/api/ion/messaging/service.
    outbound_url: str | None = None
    #: Our logical id in ION (fromLogicalId of what we send).
    logical_id: str = "lid://infor.ims.m3amazon"
    to_logical_id: str = "lid://default"
    deflate: bool = False

    def inbound_token_value(self) -> str | None:
        return read_secret(self.inbound_token, self.inbound_token_file, "the IMS inbound token")

    def inbound_password_value(self) -> str | None:
        return read_secret(self.inbound_password, self.inbound_password_file, "the IMS inbound password")


class M3Settings(BaseModel):
    """The M3 connection. Cloud: a .ionapi file. On-premises: base URL and basic auth."""

    mode: Literal["cloud", "onprem"] = "onprem"
    ionapi_file: Path | None = None
    base_url: str | None = "http://127.0.0.1:8444"
    username: str | None = "M3SRVADM"
    password: SecretStr | None = SecretStr("demo")
    password_file: Path | None = None
    verify_tls: bool = True
    ca_bundle: Path | None = None
    cono: int = Field(default=100, ge=0, le=999)
    divi: str = Field(default="AAA", max_length=3)
    faci: str = Field(default="A01", max_length=3)
    default_ortp: str = Field(default="AMZ", max_length=3)
    channels: dict[FulfillmentChannelName, ChannelDefaults] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "AMAZON": ChannelDefaults(ortp="AFN", whlo="FBA"),
            "MERCHANT": ChannelDefaults(ortp="MFN", whlo="100"),
        }
    )
    timeout_s: float = Field(default=30.0, gt=0)
    max_concurrency: int = Field(default=8, ge=1)
    #: Largest number of transactions sent in one bulk POST.
    bulk_chunk: int = Field(default=100, ge=1)
    #: Send several transactions in one bulk POST; false sends one GET per transaction (for
    #: tenants whose gateway does not offer the bulk endpoint, and as the benchmark's baseline).
    use_bulk: bool = True
    circuit: CircuitSettings = Field(default_factory=CircuitSettings)
    ion: IonSettings = Field(default_factory=IonSettings)

    @model_validator(mode="after")
    def _connection_given(self) -> M3Settings:
        if self.mode == "cloud" and self.ionapi_file is None:
            raise ValueError("m3.mode is 'cloud' but m3.ionapi_file is not set")
        if self.mode == "onprem" and not self.base_url:
            raise ValueError("m3.mode is 'onprem' but m3.base_url is not set")
        return self

    def password_value(self) -> str | None:
        return read_secret(self.password, self.password_file, "the M3 password")


class EngineSettings(BaseModel):
    """The durable engine (DBOS) and the worker's identity."""

    #: Stable identity of this worker; DBOS recovers a worker's unfinished workflows under it.
    executor_id: str = Field(default_factory=lambda: os.environ.get("HOSTNAME", "local") + "-worker")
    #: Orders processed at once by one worker.
    worker_concurrency: int = Field(default=16, ge=1)
    #: How often the order queue (Amazon order changes, M3 shipments and invoices) is polled for new
    #: work, in seconds.
    queue_polling_s: float = Field(default=0.1, gt=0)
    #: How often the Multi-Channel Fulfillment and inventory queues are polled, in seconds. Their runs
    #: follow Amazon's pace (fulfillment orders, quantity feeds) and a second does not matter there;
    #: every poll of every queue costs the worker CPU time and a database round trip.
    background_queue_polling_s: float = Field(default=1.0, gt=0)
    #: How often the watchdog looks for workflows that died of an unexpected error (ops/watchdog.py).
    watchdog_interval_s: float = Field(default=30.0, gt=0)
    #: How often this worker records its heartbeat in the database (ops/workers.py).
    heartbeat_interval_s: float = Field(default=5.0, gt=0)
    #: A worker whose heartbeat is older than this is dead: a live worker takes over its unfinished
    #: workflows (one worker does, under a lease). Keep it well above heartbeat_interval_s.
    heartbeat_timeout_s: float = Field(default=60.0, gt=0)
    #: Take over the unfinished workflows of dead workers automatically (else: `m3amazon workers recover`).
    takeover: bool = True


class FbaReconciliationSettings(BaseModel):
    """FBA -> M3: Amazon's FBA stock compared with M3's FBA warehouse (flows/fba_inventory.py)."""

    #: Off until M3's FBA warehouse was loaded from Amazon's stock once (docs/operations.md):
    #: before that every SKU would differ and become an incident.
    enabled: bool = False
    #: "adjust": differences up to `max_adjust_units` are booked in M3 (MMS850MI AddAdjust);
    #: "report_only": every difference is only reported (an incident), nothing is booked.
    mode: Literal["adjust", "report_only"] = "adjust"
    #: Largest difference (in units, either way) booked without a person looking at it.
    max_adjust_units: int = Field(default=10, ge=0)
    #: Transaction reason (RSCD, MMS850MI) of the adjustments.
    reason_code: str = Field(default="AMZ", max_length=3)
    #: Partner (E0PA) and message type (E065) of the MMS850MI set-up for these adjustments.
    partner: str = Field(default="AMAZON", max_length=17)
    message_type: str = Field(default="ADJ", max_length=6)
    #: How often Amazon's FBA stock is read in full (getInventorySummaries), in seconds.
    interval_s: float = Field(default=3600.0, ge=1)


class SettlementSettings(BaseModel):
    """Settlements into M3's general ledger (flows/settlement.py; the GL table is the mapping's `gl:`)."""

    #: Look for new settlement reports (getReports, REPORT_PROCESSING_FINISHED) in `m3amazon run`.
    enabled: bool = True
    #: How often, in seconds (Amazon publishes a settlement about every two weeks).
    interval_s: float = Field(default=3600.0, gt=0)
    #: The first look after the start, in seconds.
    first_after_s: float = Field(default=60.0, ge=0)
    #: Reports created within this many days are considered (Amazon keeps them 90).
    lookback_days: int = Field(default=90, ge=1, le=90)


class InventorySettings(BaseModel):
    """Inventory sync: M3 available stock -> Amazon's seller-fulfilled quantity (flows/inventory.py)."""

    enabled: bool = True
    #: Marketplaces whose listings get the quantity (default: all of amazon.marketplaces).
    marketplaces: list[str] = Field(default_factory=list)
    #: How often changed SKUs are pushed (and the open feeds looked at), in seconds.
    push_interval_s: float = Field(default=2.0, gt=0)
    #: Delta poll of M3 balances (OIS100MI LstNewBalances by LMTS), in seconds; 0 turns it off.
    poll_interval_s: float = Field(default=300.0, ge=0)
    #: Poll rows carry no change time: they are versioned this long before the poll started, so a
    #: balance BOD of a change the poll just missed still wins over the poll's older figure.
    poll_version_lag_s: float = Field(default=30.0, ge=0)
    #: Full reconciliation: every SKU recomputed and sent again, daily at this UTC hour.
    reconcile_hour_utc: int | None = Field(default=2, ge=0, le=23)
    #: Run a full reconciliation when the service starts.
    reconcile_on_start: bool = True
    #: Up to this many changed SKUs go one by one through patchListingsItem; more go as a feed.
    patch_max: int = Field(default=20, ge=0)
    #: Messages per JSON_LISTINGS_FEED (Amazon's limit is 25,000).
    feed_max_messages: int = Field(default=25_000, ge=1, le=25_000)
    #: A feed still IN_QUEUE/IN_PROGRESS after this many seconds raises an alert.
    feed_stuck_after_s: float = Field(default=3600.0, gt=0)
    fba: FbaReconciliationSettings = Field(default_factory=FbaReconciliationSettings)


class McfSettings(BaseModel):
    """Multi-Channel Fulfillment: M3 orders of other channels shipped by Amazon from FBA (flows/mcf.py)."""

    enabled: bool = True
    #: M3 order types (ORTP) whose orders Amazon ships; the poll searches for these.
    order_types: list[str] = Field(default_factory=lambda: ["MCF"])
    #: M3 warehouses (WHLO) whose orders Amazon ships, whatever their order type (orders of the
    #: Amazon channels' own order types, m3.channels and m3.default_ortp, never are).
    warehouses: list[str] = Field(default_factory=list)
    #: Amazon's shipping speed for these orders: Standard, Expedited, Priority or ScheduledDelivery.
    shipping_speed: Literal["Standard", "Expedited", "Priority", "ScheduledDelivery"] = "Standard"
    #: What Amazon does when stock is short: FillOrKill (nothing ships, the order is Unfulfillable)
    #: or FillAllAvailable (what is there ships, the order ends CompletePartialled).
    fulfillment_policy: Literal["FillOrKill", "FillAllAvailable"] = "FillOrKill"
    #: Ask getFulfillmentPreview first; an order Amazon says it cannot ship becomes an incident
    #: instead of an Unfulfillable fulfillment order.
    preview: bool = True
    #: sellerFulfillmentOrderId = prefix + M3 order number (at most 40 characters in all).
    request_id_prefix: str = Field(default="M3-", max_length=20)
    #: Marketplace the fulfillment orders are placed in (default: the first of amazon.marketplaces).
    marketplace_id: str | None = None
    #: Poll of M3 (OIS100MI SearchHead by order type) for orders a lost BOD did not announce, and
    #: of Amazon (listAllFulfillmentOrders) for status changes a lost notification did not, in seconds.
    poll_interval_s: float = Field(default=300.0, gt=0)
    #: How often FULFILLMENT_ORDER_STATUS notifications are taken from the event inbox, in seconds.
    inbox_interval_s: float = Field(default=1.0, gt=0)
    #: An order whose last run ended in a retryable incident (M3 or Amazon unavailable, FBA out of
    #: stock) is tried again by the M3 poll at most this often, in seconds.
    retry_interval_s: float = Field(default=300.0, gt=0)


class WebSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    #: Secure flag of the console's session cookie: "auto" sets it when the request came over TLS
    #: (directly, or through a proxy uvicorn trusts for X-Forwarded-Proto), "always" and "never" insist.
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    #: A console session ends this long after login, or after this long without a request.
    session_max_age_s: int = Field(default=12 * 3600, ge=60)
    session_idle_s: int = Field(default=3600, ge=60)
    #: Login throttling: after this many failed logins for one user name (or from one address) within
    #: the window, further attempts are refused until the window has passed.
    login_max_failures: int = Field(default=5, ge=1)
    login_window_s: int = Field(default=900, ge=1)
    #: When set, GET /metrics needs `Authorization: Bearer <token>` (it never holds personal data).
    metrics_token: SecretStr | None = None
    metrics_token_file: Path | None = None

    def metrics_token_value(self) -> str | None:
        return read_secret(self.metrics_token, self.metrics_token_file, "the metrics token")


class InvoicingSettings(BaseModel):
    """How M3's invoices are checked against Amazon's prices (flows/invoicing.py)."""

    #: Largest difference per invoice, in the order currency, that is not a variance.
    tolerance: Decimal = Field(default=Decimal("0.01"), ge=0)


class AlertRoute(BaseModel):
    """Where alerts of some categories and at least some severity go (apprise URLs)."""

    urls: list[str] = Field(min_length=1, description="apprise URLs, e.g. mailto://..., json://host/path")
    categories: list[str] = Field(default_factory=lambda: ["*"])
    min_severity: Literal["info", "warning", "error", "critical"] = "warning"


class AlertSettings(BaseModel):
    routes: list[AlertRoute] = Field(default_factory=list)
    #: One message per category per window (seconds).
    window_s: float = Field(default=300.0, gt=0)
    #: Most distinct subjects listed in one message.
    max_subjects: int = Field(default=20, ge=1)


class SecuritySettings(BaseModel):
    """Keys for personal data at rest (docs/security.md). Newest first; the first one encrypts."""

    pii_keys: SecretStr | None = None
    pii_keys_file: Path | None = None
    #: Buyer names, addresses, phones and emails are removed this many days after the work on an
    #: order finished (it was delivered and invoiced); Amazon's Data Protection Policy: 30 days.
    pii_retention_days: float = Field(default=30.0, ge=0)
    #: How often the running service applies the retention rule (ops/retention.py), in seconds.
    pii_purge_interval_s: float = Field(default=3600.0, gt=0)

    def keys(self) -> list[str] | None:
        """The configured keys, or None when encryption at rest is not configured."""
        from m3amazon.ops.crypto import load_keys

        text = read_secret(self.pii_keys, None, "the PII keys")
        if not text and self.pii_keys_file is None:
            return None
        return load_keys(text, self.pii_keys_file)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="M3AMAZON_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    #: SQLAlchemy URL shared by the durable engine and the product's own tables.
    database_url: str = "sqlite:///./var/m3amazon.sqlite"
    #: YAML file with the mapping tables (customers, items, ...). Default: the shipped defaults.
    mapping_file: Path | None = None
    amazon: AmazonSettings = Field(default_factory=AmazonSettings)
    m3: M3Settings = Field(default_factory=M3Settings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    mcf: McfSettings = Field(default_factory=McfSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    invoicing: InvoicingSettings = Field(default_factory=InvoicingSettings)
    inventory: InventorySettings = Field(default_factory=InventorySettings)
    settlements: SettlementSettings = Field(default_factory=SettlementSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: Log format of `m3amazon run`: "json" (one object per line with correlation ids, personal data
    #: and secrets redacted; ops/logs.py) or "text".
    log_format: Literal["json", "text"] = "json"

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("database_url must be a sqlite:/// or postgresql:// URL")
        return value

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, file_secret_settings]
        path = _CONFIG_FILE.get()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> Settings:
        """Settings from env over the YAML file `path` (or $M3AMAZON_CONFIG), with code overrides on top."""
        chosen = path or os.environ.get("M3AMAZON_CONFIG")
        config_path = Path(chosen) if chosen else None
        if config_path is not None and not config_path.is_file():
            raise FileNotFoundError(f"configuration file not found: {config_path}")
        token = _CONFIG_FILE.set(config_path)
        try:
            return cls(**overrides)
        finally:
            _CONFIG_FILE.reset(token)
