package gatekeeper.requirements.lineage_test

import data.gatekeeper.requirements.lineage
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(lineage.violations) with input as td.input_of([model])
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
