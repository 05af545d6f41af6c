package gatekeeper.requirements.signoff_test

import data.gatekeeper.requirements.signoff
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(signoff.violations) with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

messages(model) := found_messages if {
	violations := signoff.violations with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	found_messages := {[v.requirement, v.message] | some v in violations}
}

with_signoffs(class, statements) := object.union(td.model(class), {"signoffs": statements})

test_compliant_at_every_class if {
	every class in td.classes {
		found(td.model(class)) == set()
	}
}

test_no_signoffs if {
	every class in td.classes {
		found(with_signoffs(class, [])) == td.expect(
			class, {"high", "limited"},
			{"signoff.role"},
		)
	}
	violations := signoff.violations with input as td.input_of([with_signoffs("high", [])])
		with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{[v.requirement, v.threshold, v.observed] | some v in violations} == {
		["signoff.role", "validator", null],
		["signoff.role", "compliance", null],
	}
}

test_one_role_missing if {
	only_validator := [td.signoff("validator", td.alice), td.signoff("owner", td.alice)]
	missing := "no valid sign-off for role 'compliance' (no sign-off claims this role)"
	messages(with_signoffs("high", only_validator)) == {["signoff.role", missing]}
	every class in td.classes {
		found(with_signoffs(class, only_validator)) == td.expect(
			class, {"high"},
			{"signoff.role"},
		)
	}
}

test_rejected_signoffs_are_explained if {
	operation := {"op": "replace", "path": "/predicate/expires_at", "value": td.earlier}
	expired := json.patch(td.signoff("validator", td.alice), [operation])
	forged := object.union(td.signoff("validator", td.bob), {"source": "signoffs/v2.dsse.json"})
	model := with_signoffs("high", [expired, forged, td.signoff("compliance", td.bob)])
	messages(model) == {["signoff.role", concat("", [
		"no valid sign-off for role 'validator' (",
		"signoffs/validator.dsse.json: expired on 2026-01-01T00:00:00Z; ",
		"signoffs/v2.dsse.json: role 'validator' not granted to bob@example.com)",
	])]}
}

test_owner_role_is_the_evidence_owner if {
	messages(with_signoffs("limited", [td.signoff("owner", td.bob)])) == {["signoff.role", concat("", [
		"no valid sign-off for role 'owner' (signoffs/owner.dsse.json: ",
		"role 'owner' not granted: bob@example.com is not the model owner (alice@example.com))",
	])]}
	every class in td.classes {
		found(with_signoffs(class, [td.signoff("owner", td.bob)])) == td.expect(
			class, {"high", "limited"},
			{"signoff.role"},
		)
	}
}

test_one_person_cannot_sign_for_two if {
	signers := {"signers": [object.union(data.gatekeeper.signers.signers[0], {
		"name": td.alice.name,
		"roles": ["validator", "compliance"],
	})]}
	model := with_signoffs("high", [td.signoff("validator", td.alice), td.signoff("compliance", td.alice)])
	violations := signoff.violations with input as td.input_of([model]) with data.gatekeeper.signers as signers
		with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{[v.requirement, v.observed, v.threshold] | some v in violations} == {["signoff.distinct_signers", 1, 2]}
}

test_distinct_signers_counted_once_every_role_is_covered if {
	# With quorum 3 and two roles covered by two people, only the head count fails.
	path := "/risk_classes/high/signoffs/min_distinct_signers"
	matrix := json.patch(td.matrix, [{"op": "replace", "path": path, "value": 3}])
	model := with_signoffs("high", [td.signoff("validator", td.alice), td.signoff("compliance", td.bob)])
	violations := signoff.violations with input as td.input_of([model]) with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{[v.requirement, v.observed, v.threshold] | some v in violations} == {["signoff.distinct_signers", 2, 3]}
}

test_statement_without_source if {
	unnamed := object.remove(td.signoff("owner", td.bob), ["source"])
	messages(with_signoffs("limited", [unnamed])) == {["signoff.role", concat("", [
		"no valid sign-off for role 'owner' ((unnamed statement): ",
		"role 'owner' not granted: bob@example.com is not the model owner (alice@example.com))",
	])]}
}

test_statements_without_role_are_ignored if {
	no_role := json.remove(td.signoff("validator", td.alice), ["predicate/role"])
	model := with_signoffs("high", [no_role, td.signoff("compliance", td.bob)])
	found(model) == {"signoff.role"}
}
