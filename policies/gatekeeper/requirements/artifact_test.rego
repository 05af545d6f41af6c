package gatekeeper.requirements.artifact_test

import data.gatekeeper.requirements.artifact
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(artifact.violations) with input as td.input_of([model])
}

test_compliant_at_every_class if {
	every class in td.classes {
		found(td.model(class)) == set()
	}
}

test_digest_missing if {
	every class in td.classes {
		found(td.model_with(class, {"evidence": {"artifact": {"digest": ""}}})) == td.expect(
			class, {"high", "limited"},
			{"artifact.digest_missing"},
		)
		found(td.model_without(class, ["evidence/artifact"])) == td.expect(
			class, {"high", "limited"},
			{"artifact.digest_missing"},
		)
	}
}

test_storage_uri_mismatch if {
	every class in td.classes {
		found(td.model_with(class, {"storage_uri": "s3://models/credit-scoring/2"})) == td.expect(
			class, {"high", "limited", "minimal"},
			{"artifact.storage_uri_mismatch"},
		)
		found(td.model_with(class, {"storage_uri": "s3://models/credit-scoring/3/"})) == set()
		found(td.model_with(class, {"storage_uri": null})) == set()
		found(td.model_with(class, {"evidence": {"artifact": {"uri": null}}})) == set()
	}
}

test_storage_uri_message if {
	model := td.model_with("minimal", {"storage_uri": "gs://elsewhere/model"})
	violations := artifact.violations with input as td.input_of([model])
	{[v.message, v.observed, v.threshold] | some v in violations} == {[
		"the workload serves gs://elsewhere/model but the evidence describes s3://models/credit-scoring/3",
		"gs://elsewhere/model",
		"s3://models/credit-scoring/3",
	]}
}
