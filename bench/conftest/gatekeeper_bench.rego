# The conftest side of bench/conftest_bench.py: the same admission decision the gate
# asks OPA for, built by conftest from each manifest plus data.
#
# data.gatekeeper.matrix / data.gatekeeper.signers: the policy data (as OPA loads it);
# data.gatekeeper_bench.facts: the model entries the gate builds (evidence read, model
# card split, signatures verified), keyed by model reference and dumped once to JSON;
# data.gatekeeper_bench.now: the time the gate put in its inputs.
#
# The rules below redo in Rego what gatekeeper/workloads.py does in Python: which kinds
# are gated, which annotation names the model, the declared risk class, the storageUri.
package main

annotation_prefix := "model-gatekeeper.io/"

model_annotation := concat("", [annotation_prefix, "model"])

risk_annotation := concat("", [annotation_prefix, "risk-class"])

workload_kinds := {["apps", "Deployment"], ["apps", "StatefulSet"]}

serving_kinds := {["serving.kserve.io", "InferenceService"], ["mlops.seldon.io", "Model"]}

group := split(input.apiVersion, "/")[0] if contains(input.apiVersion, "/")

else := ""

kind_key := [group, input.kind]

workload if kind_key in workload_kinds

serving if kind_key in serving_kinds

annotations := object.union(
	object.get(input, ["spec", "template", "metadata", "annotations"], {}),
	object.get(input, ["metadata", "annotations"], {}),
) if workload

else := object.get(input, ["metadata", "annotations"], {})

gated if serving

gated if {
	workload
	annotations[model_annotation]
}

model_ref := trim_space(annotations[model_annotation])

declared_risk_class := lower(trim_space(annotations[risk_annotation])) if annotations[risk_annotation]

else := null

storage_uri := input.spec.predictor.model.storageUri if input.kind == "InferenceService"

else := uri if {
	input.kind == "InferenceService"
	some framework in input.spec.predictor
	is_object(framework)
	uri := framework.storageUri
}

else := input.spec.storageUri if input.kind == "Model"

else := null

models := [entry] if {
	facts := data.gatekeeper_bench.facts[model_ref]
	entry := object.union(facts, {"declared_risk_class": declared_risk_class, "storage_uri": storage_uri})
}

else := []

reference_errors := [{"message": sprintf("%s serves a model but has no %s annotation naming it", [input.kind, model_annotation])}] if {
	not annotations[model_annotation]
}

else := [{"message": sprintf("annotation %s: '%s' is not a model URI known to the bench data", [model_annotation, model_ref])}] if {
	models == []
}

else := []

doc := {
	"now": data.gatekeeper_bench.now,
	"environment": "production",
	"operation": "CREATE",
	"object": {
		"apiVersion": input.apiVersion,
		"kind": input.kind,
		"namespace": object.get(input, ["metadata", "namespace"], null),
		"name": input.metadata.name,
	},
	"models": models,
	"reference_errors": reference_errors,
}

decision := d if {
	gated
	d := data.gatekeeper.decision with input as doc
}

deny contains msg if {
	decision.allowed == false
	some v in decision.violations
	msg := sprintf("[%s] %s@%s: %s", [v.requirement, v.model, v.version, v.message])
}
