"""The background auditor: the third front door (beside the webhook and the CLI).

It re-judges the model-serving workloads already running, through the same pipeline
(`Gate.evaluate` with source=background), and publishes what it finds: a
wgpolicyk8s.io/v1alpha2 PolicyReport per workload, an Event when compliance changes,
Prometheus gauges, and a decision-log record when a workload is first judged and
whenever its outcome changes. Only `client` and `watch` (its list-and-watch cache) talk
to the Kubernetes API.
"""
