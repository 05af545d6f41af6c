# The violation document every requirement family reports.
package gatekeeper.lib

# METADATA
# description: |
#   A violation of requirement by the model of ctx (a model context, or any object
#   with name and version). observed and threshold are null where not meaningful;
#   references are what the requirement serves (the regulation map), citation their
#   short form for the denial message.
violation(ctx, requirement, message, observed, threshold) := {
	"requirement": requirement,
	"model": ctx.name,
	"version": ctx.version,
	"message": message,
	"observed": observed,
	"threshold": threshold,
	"remediation": remediation(requirement),
	"references": refs,
	"citation": citation(refs),
} if {
	refs := references(requirement)
}

# METADATA
# description: what a person should do about requirement (from the matrix)
remediation(requirement) := advice if {
	advice := matrix.remediation[requirement]
	is_string(advice)
} else := sprintf("See requirement %s in the requirement matrix.", [requirement])
