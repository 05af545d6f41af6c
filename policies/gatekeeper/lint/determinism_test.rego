package gatekeeper.lint_test

import data.gatekeeper.lint

clock := concat("\n", [
	"package gatekeeper.requirements.clock",
	"",
	"# time.now_ns() in a comment is not a call",
	`stamp := time.now_ns()`,
	"",
	`fetch(url) := http.send({"method": "GET", "url": url})`,
	"",
	"ping if {",
	`	uuid.rfc4122("x")`,
	"}",
])

test_a_nondeterministic_call_is_a_problem if {
	calls := lint.nondeterministic_calls with input.modules as {"gatekeeper/requirements/clock.rego": clock}
	calls == {
		["gatekeeper/requirements/clock.rego", "time.now_ns"],
		["gatekeeper/requirements/clock.rego", "http.send"],
		["gatekeeper/requirements/clock.rego", "uuid.rfc4122"],
	}
	problems := lint.problems with input.modules as {"gatekeeper/requirements/clock.rego": clock}
	some line in problems
	line == concat("", [
		"gatekeeper/requirements/clock.rego: calls time.now_ns, whose result depends on more than ",
		"the input and the policy: its decisions could not be replayed",
	])
}

test_a_mention_or_a_test_module_is_not if {
	comment := "package gatekeeper.lib.x\n\n# http.send is never called here\nok := true\n"
	calls := lint.nondeterministic_calls with input.modules as {
		"gatekeeper/lib/x.rego": comment,
		"gatekeeper/lib/x_test.rego": clock,
	}
	calls == set()
}
