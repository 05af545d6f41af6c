package gatekeeper.requirements.lineage_test

import data.gatekeeper.requirements.lineage
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(lineage.violations) with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

test_compliant_at_every_class if {
	every class in td.classes {
		found(td.model(class)) == set()
	}
}

test_run_id if {
	every class in td.classes {
		found(td.model_with(class, {"evidence": {"lineage": {"run_id": ""}}})) == td.expect(
			class, {"high", "limited", "minimal"},
			{"lineage.run_id"},
		)
	}
}

test_code_commit if {
	every class in td.classes {
		found(td.model_without(class, ["evidence/lineage/code_commit"])) == td.expect(
			class, {"high", "limited"},
			{"lineage.code_commit"},
		)
	}
}

test_training_dataset_digest if {
	evaluation := {"name": "x", "digest": "sha256:1", "context": "evaluation"}
	evaluation_only := {"evidence": {"lineage": {"datasets": [evaluation]}}}
	no_digest := {"evidence": {"lineage": {"datasets": [{"name": "x", "digest": " ", "context": "training"}]}}}
	every class in td.classes {
		every model in [
			td.model_with(class, evaluation_only),
			td.model_with(class, no_digest),
			td.model_without(class, ["evidence/lineage/datasets"]),
		] {
			found(model) == td.expect(class, {"high", "limited"}, {"lineage.training_dataset_digest"})
		}
	}
}

test_no_lineage_at_all if {
	found(td.model_without("high", ["evidence/lineage"])) == {
		"lineage.run_id",
		"lineage.code_commit",
		"lineage.training_dataset_digest",
	}
	found(td.model_without("minimal", ["evidence/lineage"])) == {"lineage.run_id"}
}

test_placeholders_are_not_recorded_values if {
	every word in ["n/a", "TODO", " Unknown ", "tbd", "-"] {
		every class in td.classes {
			found(td.model_with(class, {"evidence": {"lineage": {"run_id": word, "code_commit": word}}})) == td.expect(
				class, {"high", "limited", "minimal"},
				{"lineage.run_id"} | td.expect(class, {"high", "limited"}, {"lineage.code_commit"}),
			)
		}
	}
}

test_placeholder_message_names_the_value if {
	model := td.model_with("high", {"evidence": {"lineage": {"run_id": "n/a"}}})
	violations := lineage.violations with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	messages := {v.message | some v in violations}
	messages == {"lineage.run_id is 'n/a', a placeholder, not a recorded value"}
}

test_placeholder_dataset_digest if {
	datasets := [{"name": "loans", "digest": "unknown", "context": "training"}]
	model := td.model_with("high", {"evidence": {"lineage": {"datasets": datasets}}})
	violations := lineage.violations with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	messages := {v.message | some v in violations}
	messages == {concat("", [
		"the evidence lists no training dataset (context: training) with a digest ",
		"(digest of 'loans' is 'unknown', a placeholder)",
	])}
}

test_placeholders_are_policy_data if {
	model := td.model_with("high", {"evidence": {"lineage": {"run_id": "pending"}}})
	found(model) == set()
	ids := td.ids(lineage.violations) with input as td.input_of([model])
		with data.gatekeeper.matrix as object.union(td.matrix, {"evidence": {"placeholders": ["Pending", 7]}})
		with data.gatekeeper.lib.register_entry as td.registered
	ids == {"lineage.run_id"}
}
