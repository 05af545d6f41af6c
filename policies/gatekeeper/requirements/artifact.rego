# Artifact: the evidence pins the artifact, and the workload serves that artifact.
package gatekeeper.requirements.artifact

import data.gatekeeper.lib

# METADATA
# description: the class requires an artifact digest and the evidence has none
violations contains v if {
	some ctx in lib.assessed
	ctx.requirements.artifact.digest_required == true
	not lib.filled(lib.artifact_digest(ctx))
	message := "the evidence records no artifact digest (artifact.digest)"
	v := lib.violation(ctx, "artifact.digest_missing", message, null, null)
}

# METADATA
# description: |
#   The workload's storage URI differs from the artifact URI of the evidence (checked
#   for every admissible class, when both are given; a trailing "/" is ignored).
violations contains v if {
	some ctx in lib.assessed
	served := ctx.storage_uri
	is_string(served)
	documented := object.get(ctx.evidence, ["artifact", "uri"], null)
	is_string(documented)
	trim_suffix(served, "/") != trim_suffix(documented, "/")
	message := sprintf("the workload serves %s but the evidence describes %s", [served, documented])
	v := lib.violation(ctx, "artifact.storage_uri_mismatch", message, served, documented)
}
