"""Model Gatekeeper: a policy-as-code admission gate for ML model deployments."""

__version__ = "0.1.0"
