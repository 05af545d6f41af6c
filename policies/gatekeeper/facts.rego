# The policy facts Python needs (gatekeeper.types.policy_facts.PolicyFacts): what the
# gate's failure paths, the webhook's metrics and the signing CLI must know of the
# loaded policy. They are read from here, never from the YAML, so Python sees the
# matrix exactly as the decision does.
package gatekeeper

import data.gatekeeper.lib

# METADATA
# title: Policy facts
# description: |
#   environments: environment -> deny | warn | dryrun, as every decision applies it;
#   risk_classes: least to most severe; never_waivable_prefixes and approver_roles:
#   the waiver settings the decision applies; signers: the trusted signers document
#   (its signers list, as the policy reads it); signoff_roles: per role (and
#   default), the sections a sign-off covers and its longest validity; serving: the
#   serving-kinds table (which kinds serve or add models, where they load them,
#   known model servers).
# entrypoint: true
facts := {
	"environments": {name: lib.enforcement_of(name) | some name in lib.environment_names},
	"risk_classes": lib.risk_classes,
	"never_waivable_prefixes": sort(lib.never_waivable_prefixes),
	"approver_roles": sort(lib.approver_roles),
	"signers": {"signers": lib.signers},
	"signoff_roles": lib.signoff_role_settings,
	"serving": serving_table,
}

# The serving-kinds table (policies/gatekeeper/serving/), or none when a policy
# folder ships without one: then no kind is gated by table.
default serving_table := {}

serving_table := data.gatekeeper.serving
