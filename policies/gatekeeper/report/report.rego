# What a model's evidence pack (`gatekeeper report model`) needs to know of the policy,
# as the decision applies it: the model's effective risk class and the register's entry,
# the requirements (thresholds) of that class in the environment asked about, each
# signed statement with why it does not count, and the regulation map where the policy
# has one. Python renders this; it re-implements none of it.
package gatekeeper.report

import data.gatekeeper.lib

# METADATA
# title: A model's evidence pack
# description: |
#   Input: a decision input (now, environment, models) with one model entry. Output:
#   risk_class, registered (the register's entry or null), environment and
#   enforcement, requirements (the class's settings there), model_requirements (the
#   matrix's entry for this model), signoffs and waivers (each with rejections: []
#   when it counts), requirement_ids (family -> the IDs it raises) and regulations
#   (null without a map).
# entrypoint: true
model := {
	"risk_class": ctx.risk_class,
	"registered": ctx.registered,
	"environment": lib.requirements_environment,
	"enforcement": lib.enforcement_of(lib.requirements_environment),
	"requirements": ctx.requirements,
	"model_requirements": object.get(lib.matrix, ["models", ctx.name], {}),
	"signoffs": [signoff_view(statement, ctx) | some statement in ctx.signoffs],
	"waivers": [waiver_view(statement, ctx) | some statement in ctx.waivers],
	"requirement_ids": requirement_ids(ctx),
	"regulations": regulations(ctx),
} if {
	ctx := lib.models[0]
}

# METADATA
# description: a sign-off as the pack shows it (who, role, when, until, which key) and why it does not count
signoff_view(statement, ctx) := object.union(statement_view(statement), {
	"signer": claimed.signer,
	"role": claimed.role,
	"signed_at": claimed.signed_at,
	"expires_at": claimed.expires_at,
	"rejections": lib.signoff_rejections(statement, ctx),
}) if {
	claimed := lib.predicate_of(lib.as_object(statement), {
		"signer": null, "role": null,
		"signed_at": null, "expires_at": null,
	})
}

# METADATA
# description: a waiver as the pack shows it, with its state and why it does not count
waiver_view(statement, ctx) := object.union(statement_view(statement), {
	"approver": claimed.approver,
	"requirement": claimed.requirement,
	"versions": claimed.versions,
	"reason": claimed.reason,
	"expires_at": claimed.expires_at,
	"state": lib.waiver_state(claimed.expires_at),
	"rejections": lib.waiver_rejections(statement, ctx),
}) if {
	claimed := lib.predicate_of(lib.as_object(statement), {
		"approver": null, "requirement": null, "versions": null,
		"reason": null, "expires_at": null,
	})
}

# The verification Python did (signature against which key id) and whom the
# signers document gives that key.
statement_view(statement) := {
	"source": object.get(statement, "source", null),
	"signature_valid": object.get(statement, "signature_valid", false) == true,
	"error": object.get(statement, "error", null),
	"keyid": keyid,
	"key_owners": sort([owner.name | some owner in owners]),
} if {
	keyid := object.get(statement, "keyid", null)
	owners := object.get(lib.key_owners, keyid, set())
}

# METADATA
# description: |
#   family -> the requirement IDs it raises, for the families that judge this model
#   (lib.checked_families: those reading a setting its class has, and classification
#   and evidence, which judge every model).
requirement_ids(ctx) := {name: sort(family.raises) |
	checked := lib.checked_families(ctx)
	some name, family in lib.families
	lib.prefix_of(name) in checked
}

# METADATA
# description: |
#   The regulation coverage of this model's requirements (the regulation map,
#   lib.references): what each requirement ID serves, or why it serves nothing
#   (unmapped); and, per text, the references none of them serves. Null when the
#   policy has no regulation map.
regulations(ctx) := {
	"requirements": {id: {
		"references": lib.references(id),
		"unmapped": object.get(lib.mapped_requirements, [id, "unmapped"], null),
	} |
		some id in ids
	},
	"texts": {text: {
		"name": object.get(spec, "name", text),
		"version": object.get(spec, "version", ""),
		"unserved": [reference |
			some entry in lib.as_array(object.get(spec, "references", []))
			not [text, entry.id] in served
			reference := {"id": entry.id, "title": object.get(entry, "title", "")}
		],
	} |
		some text, spec in lib.regulation_texts
	},
} if {
	count(lib.regulation_texts) > 0
	ids := {id | some family_ids in requirement_ids(ctx); some id in family_ids}
	served := {[r.text, r.id] | some id in ids; some r in lib.references(id)}
} else := null
