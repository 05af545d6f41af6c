"""What Python needs to know of the loaded policy, as OPA evaluated it (one snapshot per
policy revision). Python never re-reads the matrix YAML: the failure paths, the CLI and
the webhook's metrics take these facts from `data.gatekeeper.facts`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gatekeeper.types.decision import Enforcement


class PolicyFacts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    revision: str = ""
    # environment -> enforcement as Rego validated it: anything but exactly `warn` or
    # `dryrun` is `deny` (a mistyped word fails closed).
    environments: dict[str, Enforcement] = Field(default_factory=dict)
    # Least to most severe; the order the matrix and the metrics use.
    risk_classes: list[str] = Field(default_factory=list)
    # Requirement ID prefixes no waiver may cover.
    never_waivable_prefixes: list[str] = Field(default_factory=list)
    # Roles whose sign-off approves a waiver.
    approver_roles: list[str] = Field(default_factory=list)
    # The trusted signers document (keys and roles), as the compliance team wrote it.
    signers: dict[str, Any] = Field(default_factory=dict)
    # Per role (and `default`): the sections a sign-off covers (`reviews` or
    # `reviews_all_but`) and `max_validity_days`, each role over the defaults.
    signoff_roles: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # The serving-kinds table (data.gatekeeper.serving: kinds, servers, storage_env,
    # environment_label), compiled by pipeline.serving.ServingKinds.from_data.
    serving: dict[str, Any] = Field(default_factory=dict)
    # What is wrong with the policy library, one line each (data.gatekeeper.lint.problems):
    # a gate refuses to decide with a policy that has any.
    problems: list[str] = Field(default_factory=list)

    def signoff_role(self, role: str) -> dict[str, Any]:
        """A role's sign-off settings as the policy applies them (the defaults for a role the matrix does not name)."""
        return self.signoff_roles.get(role) or self.signoff_roles.get("default") or {}

    def enforcement(self, environment: str) -> Enforcement:
        """Fail closed: an environment the policy does not define is enforced."""
        return self.environments.get(environment, "deny")
