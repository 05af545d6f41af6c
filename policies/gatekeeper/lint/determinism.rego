# A decision must follow from its input (which carries the decision time, `now`) and the
# policy revision alone, or `gatekeeper audit replay` could not reproduce it from the
# stored input and bundle. So no module may call a built-in OPA marks nondeterministic
# (its capabilities: the clock, the network, randomness, the runtime, remote schemas).
package gatekeeper.lint

import data.gatekeeper.lib

# METADATA
# description: |
#   The built-ins `opa capabilities` marks nondeterministic (checked against the OPA the
#   project pins in tests/test_policy_bundle.py).
nondeterministic := {
	"http.send", "io.jwt.decode_verify", "io.jwt.encode_sign", "io.jwt.encode_sign_raw",
	"json.match_schema", "json.verify_schema", "net.lookup_ip_addr", "opa.runtime",
	"rand.intn", "time.now_ns", "uuid.rfc4122",
}

# A module calls a nondeterministic built-in.
problems contains line if {
	some [path, name] in nondeterministic_calls
	template := concat("", [
		"%s: calls %s, whose result depends on more than the input and the policy: ",
		"its decisions could not be replayed",
	])
	line := sprintf(template, [path, name])
}

# METADATA
# description: |
#   [file, built-in] for each call of a nondeterministic built-in. Only modules whose text
#   names one are parsed (parsing is most of the cost); the parse tells a call from a comment.
nondeterministic_calls contains [path, name] if {
	some path, source in lib.as_object(input.modules)
	is_string(source)
	not endswith(path, "_test.rego")
	some candidate in nondeterministic
	contains(source, candidate)
	module := rego.parse_module(path, source)
	walk(module, [_, node])
	name := called(node)
	name in nondeterministic
}

# f(x) inside a term
called(node) := ref_name(node.value[0].value) if node.type == "call"

# f(x) as an expression of its own
called(node) := ref_name(node.terms[0].value) if {
	is_array(node.terms)
	node.terms[0].type == "ref"
}

ref_name(ref) := concat(".", array.concat([ref[0].value], [term.value | some term in array.slice(ref, 1, count(ref))]))
