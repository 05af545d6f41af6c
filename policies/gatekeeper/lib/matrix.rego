# The requirement matrix (data.gatekeeper.matrix): environments, enforcement and
# the requirements that apply to each risk class in the environment being evaluated.
package gatekeeper.lib

# METADATA
# scope: document
# description: the requirement matrix, or {} when none is loaded
default matrix := {}

matrix := data.gatekeeper.matrix if is_object(data.gatekeeper.matrix)

# METADATA
# description: the names of the environments the matrix knows
environment_names := object.keys(as_object(object.get(matrix, "environments", {})))

# METADATA
# scope: document
# description: true when input.environment is named in the matrix
default environment_known := false

environment_known if input.environment in environment_names

# METADATA
# scope: document
# description: |
#   The environment whose requirements apply: input.environment when the matrix knows
#   it; otherwise production, the strictest.
default requirements_environment := "production"

requirements_environment := input.environment if environment_known

# METADATA
# scope: document
# description: |
#   deny | warn | dryrun for input.environment (see enforcement_of). A change of the
#   namespace environment label (input.namespace_label) is always deny: the label guard
#   protects the governance itself, so neither the webhook path it arrives at nor the
#   label's own environment (a warn or dryrun one) may let the change through.
default enforcement := "deny"

enforcement := enforcement_of(input.environment) if not environment_label_change

# METADATA
# description: the input is a change of the namespace environment label (the label guard)
environment_label_change if is_object(input.namespace_label)

# METADATA
# description: |
#   deny | warn | dryrun for one environment: warn or dryrun only when the matrix says
#   exactly that; an unknown environment or any other word (a typo such as "Deny" or
#   "warning") means deny. The decision and the policy facts Python reads for its
#   failure paths both come from here, so they cannot disagree.
enforcement_of(environment) := action if {
	action := matrix.environments[environment].enforcement
	action in {"warn", "dryrun"}
} else := "deny"

# METADATA
# description: |
#   The requirements of one class in the environment being evaluated ({} for none):
#   the class's entry in risk_classes, deep-merged with overrides[environment][class].
#   A function, so only the classes of the models at hand are merged, each once per
#   evaluation (a lookup in a per-class partial rule would evaluate it key by key).
requirements_of(class) := requirements_in(class, requirements_environment)

# METADATA
# description: |
#   The requirements of one class in a named environment ({} for none): the class's
#   entry in risk_classes, deep-merged with overrides[environment][class] (the console's
#   policy table shows every environment's).
requirements_in(class, environment) := object.union(as_object(base), as_object(override)) if {
	base := matrix.risk_classes[class]
	override := object.get(matrix, ["overrides", environment, class], {})
} else := {}

# METADATA
# description: the waiver settings of the matrix
waiver_settings := as_object(object.get(matrix, "waivers", {}))

# METADATA
# description: roles whose holders may approve waivers
approver_roles contains role if {
	some role in as_array(object.get(waiver_settings, "approver_roles", []))
	is_string(role)
}

# METADATA
# scope: document
# description: |
#   Requirement ID prefixes no waiver can touch: the matrix's list, and always the
#   requirements the trust model rests on (classification, evidence, sign-offs): one
#   approver's waiver must not stand in for the evidence, the register or the people
#   who sign.
never_waivable_prefixes contains prefix if {
	some prefix in as_array(object.get(waiver_settings, "never_waivable_prefixes", []))
	is_string(prefix)
}

never_waivable_prefixes contains "classification.prohibited"

never_waivable_prefixes contains prefix if some prefix in {"classification.", "evidence.", "signoff."}

# METADATA
# description: true when a valid waiver may turn a violation of requirement into a warning
waivable(requirement) if not startswith_any(requirement, never_waivable_prefixes)

startswith_any(s, prefixes) if {
	some prefix in prefixes
	startswith(s, prefix)
}
