# Artifact: the evidence pins the artifact, and the workload loads that artifact from
# every place it loads a model (input.artifacts, gathered by the serving-kinds table).
package gatekeeper.requirements.artifact

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"artifact"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"artifact.digest_missing", "artifact.storage_uri_mismatch", "artifact.unverifiable"}

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
#   A location that loads another artifact than the evidence registers (checked for
#   every admissible class; a trailing "/" is ignored). Evidence that registers no URI
#   leaves URIs uncompared (artifact.unverifiable where the class requires it).
violations contains v if {
	some ctx in lib.assessed
	some location in locations(ctx)
	location.kind == "uri"
	registered := registered_uris(ctx)
	count(registered) > 0
	not trim_suffix(location.value, "/") in registered
	where := place(location)
	documented := concat(", ", sort(registered))
	message := sprintf("%s loads %s but the evidence registers %s", [where, location.value, documented])
	v := lib.violation(ctx, "artifact.storage_uri_mismatch", message, location.value, one_or_all(registered))
}

# METADATA
# description: an image pinned by a digest the evidence does not register
violations contains v if {
	some ctx in lib.assessed
	some location in locations(ctx)
	location.kind == "image"
	not location.presumed
	is_string(location.digest)
	not location.digest in registered_digests(ctx)
	message := sprintf("%s runs image %s, whose digest the evidence does not register", [place(location), location.value])
	v := lib.violation(ctx, "artifact.storage_uri_mismatch", message, location.digest, sort(registered_digests(ctx)))
}

# METADATA
# description: |
#   A location the gate cannot compare (a storage key whose bucket is in a Secret, a
#   variable from a ConfigMap or Secret, an image pinned by tag only, a URI where the
#   evidence registers none, images presumed to carry the model that the evidence does
#   not register), for the classes whose matrix entry sets artifact.location_verifiable.
violations contains v if {
	some ctx in lib.assessed
	ctx.requirements.artifact.location_verifiable == true
	some location in locations(ctx)
	reason := unverifiable(ctx, location)
	where := place(location)
	message := sprintf("%s loads %s, which cannot be compared with the evidence: %s", [where, location.value, reason])
	v := lib.violation(ctx, "artifact.unverifiable", message, location.value, null)
}

# The threshold of a mismatch: the registered URI, or all of them when there are several.
one_or_all(registered) := only if {
	count(registered) == 1
	some only in registered
} else := sort(registered)

place(location) := sprintf("%s (component %s)", [location.path, location.component])

unverifiable(_, location) := lib.text(location.reason) if location.kind == "opaque"

unverifiable(_, location) := lib.text(location.reason) if {
	location.kind == "image"
	not location.presumed
	not is_string(location.digest)
}

# Images presumed to carry the model (the object names no other location, so the model is
# baked into one of them): bound when the evidence registers the digest of any one of
# them, the others being sidecars; otherwise none of them can be compared.
unverifiable(ctx, location) := presumed_reason(location) if {
	location.kind == "image"
	location.presumed
	not presumed_bound(ctx)
}

unverifiable(ctx, location) := "the evidence registers no artifact URI (artifact.uri or artifacts[].uri)" if {
	location.kind == "uri"
	count(registered_uris(ctx)) == 0
}

presumed_bound(ctx) if {
	some location in locations(ctx)
	location.presumed
	location.digest in registered_digests(ctx)
}

presumed_because := "the object names no other artifact location, so its images are taken to carry the model; "

presumed_reason(location) := concat("", [presumed_because, lib.text(location.reason)]) if {
	not is_string(location.digest)
} else := concat("", [presumed_because, "the evidence registers no image with its digest"])

# METADATA
# description: |
#   Where the object loads models from. Inputs without `artifacts` (older callers) carry
#   only the model entry's storage_uri.
locations(ctx) := [as_location(lib.as_object(a)) | some a in lib.as_array(input.artifacts)] if {
	is_array(input.artifacts)
} else := [as_location({"path": "storageUri", "component": "model", "kind": "uri", "value": ctx.storage_uri})] if {
	is_string(ctx.storage_uri)
} else := []

as_location(a) := {
	"path": lib.text(object.get(a, "path", "")),
	"component": lib.text(object.get(a, "component", "")),
	"kind": object.get(a, "kind", "opaque"),
	"value": lib.text(object.get(a, "value", "")),
	"digest": object.get(a, "digest", null),
	"reason": object.get(a, "reason", "the location's kind is unknown"),
	"presumed": object.get(a, "presumed", false) == true,
}

# METADATA
# description: the artifact URIs the evidence registers (artifact.uri, artifacts[].uri)
registered_uris(ctx) := {trim_suffix(uri, "/") |
	some uri in array.concat(
		[object.get(ctx.evidence, ["artifact", "uri"], null)],
		[object.get(a, "uri", null) | some a in further(ctx)],
	)
	is_string(uri)
	uri != ""
}

# METADATA
# description: |
#   The digests the evidence registers: artifact.digest, artifacts[].digest and the
#   digest of artifacts[].image (an image reference pinned by digest).
registered_digests(ctx) := {d |
	some d in array.flatten([
		[object.get(ctx.evidence, ["artifact", "digest"], null)],
		[object.get(a, "digest", null) | some a in further(ctx)],
		[image_digest(a.image) | some a in further(ctx)],
	])
	is_string(d)
	d != ""
}

image_digest(image) := parts[1] if {
	is_string(image)
	parts := split(image, "@")
	count(parts) == 2
}

further(ctx) := [lib.as_object(a) | some a in lib.as_array(object.get(ctx.evidence, "artifacts", []))]
