"""The one place FaceFleet reads its configuration from.

Every value comes from ``FACEFLEET_``-prefixed environment variables with ``__`` as the
nested delimiter (``FACEFLEET_DATABASE__URL``), or from an ``.env`` file. Nothing else in
the code base reads ``os.environ``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")
# The default limits of a probe sent in its task message (``Settings.inline_probe_limit``).
INLINE_PROBE_BYTES_AMQP = 4 * 1024 * 1024
INLINE_PROBE_BYTES_OTHER = 256 * 1024


class Mode(StrEnum):
    EMBEDDED = "embedded"
    DISTRIBUTED = "distributed"


class ObjectStoreKind(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class DatabaseSettings(BaseModel):
    url: str = "sqlite:///.facefleet/data/facefleet.db"
    pool_size: int = 10
    # Check a pooled connection before use, except one handed back within the bypass window
    # (HikariCP's 500 ms; infra/db/connection_check.py); 0 checks every checkout.
    pool_pre_ping: bool = True
    pre_ping_bypass_seconds: float = Field(default=0.5, ge=0)
    echo: bool = False


class ObjectStoreSettings(BaseModel):
    kind: ObjectStoreKind = ObjectStoreKind.LOCAL
    local_root: Path = Path(".facefleet/data/objects")
    endpoint: str = "127.0.0.1:9000"
    access_key: SecretStr = SecretStr("")
    secret_key: SecretStr = SecretStr("")
    secure: bool = False
    region: str | None = None
    bucket: str = "facefleet"
    presign_seconds: int = 3600


class VectorStoreSettings(BaseModel):
    # A file path selects milvus-lite; an http(s)/tcp URI selects a Milvus server.
    uri: str = ".facefleet/data/milvus.db"
    token: SecretStr = SecretStr("")
    collection_prefix: str = "facefleet"
    index_type: str = "HNSW"
    hnsw_m: int = 32
    hnsw_ef_construction: int = 256
    # None: derived per search from top_n and the face set's size (vector_index.search_ef_for);
    # a number overrides it for every search.
    search_ef: int | None = None
    timeout_seconds: float = 5.0


class BrokerSettings(BaseModel):
    url: str = "sqla+sqlite:///.facefleet/data/broker.db"
    # pika/management access for queue signals; unused in embedded mode.
    management_url: str | None = None
    confirm_publish: bool = True


class JobSettings(BaseModel):
    sync_wait_seconds: float = 30.0
    result_ttl_seconds: int = 7 * 24 * 3600
    # Must exceed the task time limit (celery_config: 660 s): a job still `running` after
    # this long cannot be alive, so re-sending it can never run it twice at once.
    stale_after_seconds: int = 720
    # How often each worker's housekeeper looks for stale jobs (the claim is atomic in SQL,
    # so several workers doing it is safe).
    housekeeping_interval_seconds: float = 30.0
    max_retries: int = 5
    retry_backoff_seconds: float = 1.0
    retry_backoff_max_seconds: float = 60.0
    # Interactive jobs (detect, compare, search...) stop retrying an unreachable store after
    # this long from their creation: their caller is waiting, and a 503 it can act on beats a
    # 202 followed by an answer nobody reads. Enrollment keeps the full retry schedule.
    interactive_retry_budget_seconds: float = 5.0
    batch_chunk_size: int = 16
    # Sync calls are told when their job ends (infra/completion.py); this is how often a
    # waiter re-reads the row anyway, so a lost push costs at most this long.
    completion_push: bool = True
    completion_fallback_poll_seconds: float = 1.0
    # Chunks of one batch waiting in the queue at once (each finished chunk sends the next).
    batch_chunks_in_flight: int = 4
    # A worker whose pool starts no job for this long while work waits and a slot is free
    # is replaced (workers/pool_watchdog.py); 0 turns the watchdog off. Starting is quick
    # (a fresh child takes a job in well under a second), so the bound can be short.
    pool_stall_seconds: float = 30.0
    # An idle pool is sent a no-op probe this often, so a dead pool is found before a job
    # waits on it.
    pool_probe_interval_seconds: float = 30.0
    # Probe images (search/detect/compare/liveness inputs, liveness best frames) are deleted
    # when their job's result is stored (0), or kept this long and removed by reconciliation.
    probe_retention_seconds: int = 0


class ImageLimitSettings(BaseModel):
    max_bytes: int = 12 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side: int = 16


class PipelineSettings(BaseModel):
    # pipelines.catalog.DEFAULT_DETECTOR and DEFAULT_FALLBACK_DETECTOR: BlazeFace, and HOG on
    # the photos where it finds nothing (docs/PIPELINE.md, "Detection"). "hog+blazeface" is
    # the slower consensus; fallback_detector=None turns the fallback off.
    detector: str = "blazeface"
    fallback_detector: str | None = "hog"
    # The worker's own model (pipelines.catalog.DEFAULT_EMBEDDER): the raw dlib descriptor the
    # seed dialects, /embed and liveness answer with; the seed dialects' face sets use it too.
    embedding_model: str = "dlib-resnet-v1"
    # The model of a face set created through the native API without one
    # (pipelines.catalog.DEFAULT_FACE_SET_MODEL), and the models a face set may name.
    face_set_model: str = "dlib-resnet-flip-v1"
    face_set_models: list[str] = ["dlib-resnet-v1", "dlib-resnet-flip-v1"]
    # "onnx": dlib's ResNet on onnxruntime, the same vectors ~20x faster (docs/ONNX.md);
    # "dlib": dlib-bin's own network, the reference.
    embedding_backend: str = "onnx"
    min_face_size: int = 20
    # None: each model's own threshold (pipelines.compare.MODEL_SCORES, chosen by
    # leave-one-source-out validation); a number overrides it for every model.
    match_distance: float | None = None
    # The raw descriptor's threshold for code that cannot import pipelines (the API's
    # Rekognition dialect): pipelines.compare.DEFAULT_MATCH_DISTANCE, which a test holds it to.
    dlib_resnet_v1_match_distance: float = 0.614
    onnx_threads: int = 1
    # Micro-batching across the jobs a worker runs at once (a threads pool, e.g. the GPU
    # pool): chips of concurrent jobs wait at most this long to share one ONNX call.
    # 0 turns it off (a prefork worker runs one job per process, so nothing would merge).
    micro_batch_wait_ms: float = 0.0
    micro_batch_max_faces: int = 32
    # True only while a worker pool consumes facefleet.gpu: GPU-worthy jobs (TensorFlow
    # deepface models, mtcnn, ONNX on CUDA) are then routed there instead of the CPU queues.
    gpu_pool: bool = False


class QualityGateSettings(BaseModel):
    """Enrollment quality gate limits; defaults measured on the shared photos (docs/ANALYSIS.md)."""

    enabled: bool = False
    min_sharpness: float = 25.0
    min_brightness: float = 50.0
    max_brightness: float = 210.0
    min_face_size: int = 60
    max_abs_yaw: float = 45.0
    max_abs_pitch: float = 35.0
    max_abs_roll: float = 45.0


class ApiSettings(BaseModel):
    gunicorn_workers: int = 2
    gunicorn_threads: int = 8
    max_request_bytes: int = 100 * 1024 * 1024
    rate_limit_per_minute: int = 600
    cors_origins: list[str] = Field(default_factory=list)
    max_face_sets_per_project: int = 1000
    max_face_set_capacity: int = 10_000_000
    default_face_set_capacity: int = 100_000
    # Batch enrollment uploads (multipart or zip) stream to the object store one image at
    # a time, so their limit is about disk and time, not API memory.
    max_batch_request_bytes: int = 4 * 1024 * 1024 * 1024
    max_batch_items: int = 100_000
    # Uploads up to this size to the native sync detect/compare/search endpoints travel in
    # the task message instead of the object store (api/probes.py); 0 stores every image.
    # None: the broker's default (``Settings.inline_probe_limit``).
    inline_probe_max_bytes: int | None = None
    # The operator's token for /v1/admin/* (fleet-wide queue signals). When set, only it is
    # accepted there, never a project's key: tenants must not read the whole fleet's load.
    # Unset (the embedded default), any valid project key may read them.
    admin_token: SecretStr = SecretStr("")
    # Failed authentications allowed per client address (and per key id) per minute
    # (api.auth_limits); proxies whose X-Forwarded-For is believed; where the counters of
    # both limiters live ("memory://": per API process; "redis://host:6379": shared).
    failed_auth_per_minute: int = 30
    trusted_proxies: list[str] = Field(default_factory=list)
    rate_limit_storage_uri: str = "memory://"


class DialectSettings(BaseModel):
    # Dialects 000 and 002 have no auth in their documents: off unless bound to a project.
    d000_project_id: str | None = None
    d002_project_id: str | None = None
    d002_face_set: str = "default"
    d002_token_ttl_seconds: int = 3600


class ModelSettings(BaseModel):
    home: Path = Path(".facefleet")


class EventSettings(BaseModel):
    """Job events on the ``facefleet.events`` topic exchange (issue 11)."""

    enabled: bool = True
    # None publishes on the broker itself; embedded mode (no AMQP) logs events in-process.
    url: str | None = None
    exchange: str = "facefleet.events"
    # At most one progress event per job per interval; final states are never throttled.
    progress_min_interval_seconds: float = 2.0
    connect_timeout_seconds: float = 3.0
    confirm_timeout_seconds: float = 5.0


class WebhookSettings(BaseModel):
    """Signed callbacks with the final job state (issue 11)."""

    # Networks (CIDR) that callbacks may reach although they are not public, e.g. "10.20.0.0/16".
    allowed_networks: list[str] = Field(default_factory=list)
    # Empty allows any public host; otherwise the host must equal an entry or end with ".<entry>".
    allowed_hosts: list[str] = Field(default_factory=list)
    require_https: bool = False
    timeout_seconds: float = 5.0
    max_attempts: int = 5
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 60.0
    # Receivers should refuse signatures older than this (documented replay window).
    signature_tolerance_seconds: int = 300


class MetricsSettings(BaseModel):
    """Prometheus exposition beyond the API's /metrics (docs/OPERATIONS.md, "Metrics")."""

    # The worker's main process serves its pool's job metrics on this port (plain HTTP, no
    # token: keep it on the internal network). None: no exporter, e.g. under `facefleet up`,
    # where the API's /metrics already includes the worker's metrics.
    worker_port: int | None = None
    worker_host: str = "0.0.0.0"
    # Set by `facefleet up`, which empties PROMETHEUS_MULTIPROC_DIR once before it starts the
    # API and the worker on the same folder: neither may empty it again on its own start, or
    # the other's counters would go backwards.
    shared_multiprocess_dir: bool = False


class RekognitionSettings(BaseModel):
    """The Rekognition-compatible endpoint (docs/REKOGNITION.md)."""

    # Fernet keys that encrypt access-key secrets at rest (SigV4 needs the secret itself).
    # The first encrypts, every one decrypts: rotate by prepending a new key, then running
    # `facefleet access-key reencrypt`, then dropping the old one. Empty: the endpoint refuses
    # every call and no access key can be created.
    encryption_keys: list[SecretStr] = Field(default_factory=list)
    # Buckets an S3Object may name; anything else is AccessDeniedException.
    s3_buckets: list[str] = Field(default_factory=list)
    # Where those buckets live; unset, the object store's own endpoint and credentials.
    s3_endpoint: str | None = None
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_secure: bool | None = None
    max_clock_skew_seconds: int = 15 * 60


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FACEFLEET_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    mode: Mode = Mode.EMBEDDED
    data_dir: Path = Path(".facefleet/data")
    public_url: str = "http://127.0.0.1:8080"
    log_level: str = "INFO"
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    object_store: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings)
    vector_store: VectorStoreSettings = Field(default_factory=VectorStoreSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    images: ImageLimitSettings = Field(default_factory=ImageLimitSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    quality: QualityGateSettings = Field(default_factory=QualityGateSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    dialects: DialectSettings = Field(default_factory=DialectSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    rekognition: RekognitionSettings = Field(default_factory=RekognitionSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    def inline_probe_limit(self) -> int:
        """``api.inline_probe_max_bytes``, or the broker's default when it is unset.

        RabbitMQ carries a sync probe faster than the object store's write and read: a
        778 KB photo and a 2.4 MB one answered 4 and 18 ms sooner inline (medians of five
        and four alternating pairs, docs/BENCHMARKS.md "Eleventh pass"). The embedded SQL
        transport carried a 778 KB photo slower than its local store did ("Tenth pass"), so
        there only photos up to 256 KiB, where the two paths measure the same, travel inline.
        """
        if self.api.inline_probe_max_bytes is not None:
            return self.api.inline_probe_max_bytes
        if self.broker.url.startswith(AMQP_SCHEMES):
            return INLINE_PROBE_BYTES_AMQP
        return INLINE_PROBE_BYTES_OTHER

    @classmethod
    def embedded(cls, home: Path, **overrides: object) -> Settings:
        """Settings for the no-server mode, with every store under ``home``."""
        data = home / "data"
        base: dict[str, object] = {
            "mode": Mode.EMBEDDED,
            "data_dir": data,
            "database": DatabaseSettings(url=f"sqlite:///{data / 'facefleet.db'}"),
            "object_store": ObjectStoreSettings(kind=ObjectStoreKind.LOCAL, local_root=data / "objects"),
            "vector_store": VectorStoreSettings(uri=str(data / "milvus.db")),
            "broker": BrokerSettings(url=f"sqla+sqlite:///{data / 'broker.db'}"),
            # One machine: a receiver on the same host is the common case, not an SSRF target.
            "webhooks": WebhookSettings(allowed_networks=["127.0.0.0/8", "::1/128"]),
        }
        base.update(overrides)
        return cls.model_validate(base)
