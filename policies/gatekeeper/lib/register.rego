# The classification register (data.gatekeeper.classification): the compliance team's
# decision of each model's risk class. Only the register classifies a model; the
# evidence may repeat its class or be stricter (see models.rego).
package gatekeeper.lib

# METADATA
# description: |
#   The register's well-formed entries (a model name or glob pattern and one of the
#   four classes); anything else is ignored, so a malformed entry classifies nothing.
register_entries := [entry |
	some entry in register_models
	is_string(entry.model)
	risk_rank[entry.risk_class]
]

# The register's list of entries ([] without a register, or when it is not a list).
default register_models := []

register_models := data.gatekeeper.classification.models if is_array(data.gatekeeper.classification.models)

# METADATA
# description: |
#   The register's entry for a model name, or null when it has none: an entry naming
#   the model exactly wins; otherwise the strictest of the patterns matching it.
register_entry(name) := exact[0] if {
	exact := [entry | some entry in register_entries; entry.model == name]
	count(exact) > 0
} else := strictest(matching) if {
	matching := [entry |
		some entry in register_entries
		glob.match(entry.model, [], name)
	]
	count(matching) > 0
} else := null

strictest(entries) := [entry |
	some entry in entries
	risk_rank[entry.risk_class] == max({risk_rank[e.risk_class] | some e in entries})
][0]
