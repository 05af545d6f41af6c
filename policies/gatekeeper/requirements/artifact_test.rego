package gatekeeper.requirements.artifact_test

import data.gatekeeper.requirements.artifact
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(artifact.violations) with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
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

		# no artifact at all: nothing to compare the workload's storage URI with either
		found(td.model_without(class, ["evidence/artifact"])) == td.expect(
			class, {"high", "limited"},
			{"artifact.digest_missing", "artifact.unverifiable"},
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
		found(td.model_with(class, {"evidence": {"artifact": {"uri": null}}})) == td.expect(
			class, {"high", "limited"},
			{"artifact.unverifiable"},
		)
	}
}

test_storage_uri_message if {
	model := td.model_with("minimal", {"storage_uri": "gs://elsewhere/model"})
	violations := artifact.violations with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{[v.message, v.observed, v.threshold] | some v in violations} == {[
		"storageUri (component model) loads gs://elsewhere/model but the evidence registers s3://models/credit-scoring/3",
		"gs://elsewhere/model",
		"s3://models/credit-scoring/3",
	]}
}

# Where the object loads models from (input.artifacts), compared location by location.
loc(path, kind, value) := {
	"path": path, "component": "predictor", "kind": kind, "value": value,
	"digest": null, "reason": null,
}

loc_with(path, kind, value, patch) := object.union(loc(path, kind, value), patch)

image_digest := "sha256:1111111111111111111111111111111111111111111111111111111111111111"

transformer_uri := "spec.transformer.containers[0].env.STORAGE_URI"

judged(model, artifacts) := violations if {
	violations := artifact.violations with input as object.union(td.input_of([model]), {"artifacts": artifacts})
		with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

found_at(model, artifacts) := td.ids(judged(model, artifacts))

test_every_location_is_compared if {
	matching := loc("spec.predictor.model.storageUri", "uri", "s3://models/credit-scoring/3/")
	other := loc(transformer_uri, "uri", "s3://elsewhere/model")
	every class in td.classes {
		found_at(td.model(class), [matching]) == set()
		found_at(td.model(class), [matching, other]) == td.expect(
			class, {"high", "limited", "minimal"},
			{"artifact.storage_uri_mismatch"},
		)
	}
}

test_artifacts_replace_the_model_storage_uri if {
	# the model entry's storage_uri is only read for inputs without `artifacts`
	found_at(td.model_with("minimal", {"storage_uri": "gs://x"}), []) == set()
}

test_mismatch_names_location_and_component if {
	other := loc_with(transformer_uri, "uri", "s3://elsewhere/model", {"component": "transformer"})
	[v.message | some v in judged(td.model("minimal"), [other])] == [concat("", [
		"spec.transformer.containers[0].env.STORAGE_URI (component transformer) loads s3://elsewhere/model ",
		"but the evidence registers s3://models/credit-scoring/3",
	])]
}

test_mismatch_threshold_lists_every_registered_uri if {
	two := td.model_with("minimal", {"evidence": {"artifacts": [{"uri": "s3://models/credit-scoring/3-explainer"}]}})
	both := ["s3://models/credit-scoring/3", "s3://models/credit-scoring/3-explainer"]
	[v.threshold | some v in judged(two, [loc("spec.model.uri", "uri", "s3://x")])] == [both]
}

test_further_registered_artifacts if {
	explainer := loc("spec.explainer.model.storageUri", "uri", "s3://models/credit-scoring/3-explainer")
	registered := td.model_with("high", {"evidence": {"artifacts": [
		{"component": "explainer", "uri": "s3://models/credit-scoring/3-explainer"},
		{"image": concat("@", ["registry.example.com/scorer", image_digest])},
	]}})
	found_at(registered, [explainer]) == set()
	found_at(td.model("high"), [explainer]) == {"artifact.storage_uri_mismatch"}
	pinned := loc_with("spec.predictor.containers[0].image", "image", "scorer@x", {"digest": image_digest})
	found_at(registered, [pinned]) == set()
	found_at(td.model("high"), [pinned]) == {"artifact.storage_uri_mismatch"}
}

tagged := loc_with("spec.predictor.containers[0].image", "image", "scorer:3", {"reason": "pinned by tag only"})

secret := loc_with("spec.predictor.model.storage", "opaque", "storage key k", {"reason": "bucket in a Secret"})

test_unverifiable_locations if {
	every class in td.classes {
		found_at(td.model(class), [tagged]) == td.expect(class, {"high", "limited"}, {"artifact.unverifiable"})
		found_at(td.model(class), [secret]) == td.expect(class, {"high", "limited"}, {"artifact.unverifiable"})
	}
}

test_unverifiable_without_registered_uri if {
	no_uri := td.model_with("high", {"evidence": {"artifact": {"uri": null}}})
	found_at(no_uri, [loc("spec.model.uri", "uri", "hf://x")]) == {"artifact.unverifiable"}
	found_at(td.model("high"), ["not a map"]) == {"artifact.unverifiable"}
}

test_unverifiable_message if {
	[v.message | some v in judged(td.model("high"), [secret])] == [concat("", [
		"spec.predictor.model.storage (component predictor) loads storage key k, ",
		"which cannot be compared with the evidence: bucket in a Secret",
	])]
}

# Images presumed to carry the model: the object names no other location (workloads.py,
# which says why an image pinned by tag only cannot be compared).
presumed(path, component, image, digest) := loc_with(
	path, "image", image,
	{"component": component, "digest": digest, "presumed": true, "reason": tag_only_reason(digest)},
)

tag_only_reason(digest) := null if {
	is_string(digest)
} else := "the image is pinned by tag only, not by digest"

scorer_image := concat("@", ["registry.example.com/scorer", image_digest])

pinned := presumed("spec.template.spec.containers[0].image", "scorer", scorer_image, image_digest)

sidecar := presumed("spec.template.spec.containers[1].image", "proxy", "envoyproxy/envoy:v1.31", null)

registers_scorer(class) := td.model_with(class, {"evidence": {"artifacts": [{"image": scorer_image}]}})

test_presumed_images_bind_when_the_evidence_registers_one if {
	every class in td.classes {
		# the registered image carries the model; the tagged sidecar is then only a sidecar
		found_at(registers_scorer(class), [pinned, sidecar]) == set()
		found_at(registers_scorer(class), [pinned]) == set()
	}
}

test_presumed_images_not_registered_are_unverifiable_never_a_mismatch if {
	every class in td.classes {
		found_at(td.model(class), [pinned]) == td.expect(class, {"high", "limited"}, {"artifact.unverifiable"})
		found_at(td.model(class), [sidecar]) == td.expect(class, {"high", "limited"}, {"artifact.unverifiable"})
		found_at(registers_scorer(class), [sidecar]) == td.expect(class, {"high", "limited"}, {"artifact.unverifiable"})
	}
}

test_presumed_image_messages if {
	because := concat("", [
		"which cannot be compared with the evidence: the object names no other artifact location, ",
		"so its images are taken to carry the model; ",
	])
	{v.message | some v in judged(td.model("high"), [pinned, sidecar])} == {
		concat("", [
			"spec.template.spec.containers[0].image (component scorer) loads ", scorer_image, ", ",
			because, "the evidence registers no image with its digest",
		]),
		concat("", [
			"spec.template.spec.containers[1].image (component proxy) loads envoyproxy/envoy:v1.31, ",
			because, "the image is pinned by tag only, not by digest",
		]),
	}
}

test_opaque_variable_sources if {
	from_secret := loc_with(
		"spec.predictor.containers[0].env.STORAGE_URI", "opaque", "STORAGE_URI from Secret model (key uri)",
		{"reason": "STORAGE_URI is read from Secret model (key uri), which the gate does not read"},
	)
	env_from := loc_with(
		"spec.predictor.containers[0].envFrom", "opaque", "environment from ConfigMap settings",
		{"reason": "the model server's model variable may be set in ConfigMap settings"},
	)
	every class in td.classes {
		found_at(td.model(class), [from_secret]) == td.expect(class, {"high", "limited"}, {"artifact.unverifiable"})
		found_at(td.model(class), [env_from]) == td.expect(class, {"high", "limited"}, {"artifact.unverifiable"})
	}
}
