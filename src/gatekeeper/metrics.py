"""Prometheus metrics of the gate (served on GET /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Sub-millisecond to budget-sized: the interesting range of an admission review.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REVIEWS = Counter(
    "gatekeeper_admission_reviews_total", "Admission reviews answered",
    ["outcome", "environment", "risk_class"],
)
REVIEW_SECONDS = Histogram("gatekeeper_admission_review_seconds", "Whole admission review latency", buckets=_BUCKETS)
OPA_SECONDS = Histogram("gatekeeper_opa_query_seconds", "OPA query latency", buckets=_BUCKETS)
EVIDENCE_SECONDS = Histogram("gatekeeper_evidence_lookup_seconds", "Evidence lookup latency (cache misses)", ["source"], buckets=_BUCKETS)
AUDIT_SECONDS = Histogram("gatekeeper_audit_append_seconds", "Durable audit append latency", buckets=_BUCKETS)
ERRORS = Counter("gatekeeper_component_errors_total", "Failures of the components the gate depends on", ["component"])
BAD_REQUESTS = Counter("gatekeeper_bad_requests_total", "Requests refused as malformed", ["reason"])
# The decision log's checkpoints (webhook/checkpoints.py).
CHECKPOINT_SIZE = Gauge("gatekeeper_log_checkpoint_size", "Tree size of the newest signed checkpoint")
# Seconds since the newest checkpoint some witness cosigned was signed: grows while the
# witnesses are down or refuse, however fast the gate signs.
COSIGNED_AGE = Gauge("gatekeeper_log_cosigned_checkpoint_age_seconds",
                     "Age of the newest checkpoint cosigned by a witness", ["witness"])
