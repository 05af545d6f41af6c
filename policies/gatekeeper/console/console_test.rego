package gatekeeper.console_test

import data.gatekeeper.console
import data.gatekeeper.testdata as td

test_every_environment_with_its_enforcement if {
	table := console.requirement_table with data.gatekeeper.matrix as td.matrix
	{name: row.enforcement | some name, row in table} == {"production": "deny", "staging": "warn", "development": "dryrun"}
	table.production.classes.high.fairness.demographic_parity_ratio_min == 0.80
	table.production.classes.prohibited == {"admitted": false}
}

test_overrides_apply_to_their_environment_only if {
	matrix := object.union(td.matrix, {"overrides": {"development": {"high": {"signoffs": null}}}})
	table := console.requirement_table with data.gatekeeper.matrix as matrix
	table.development.classes.high.signoffs == null
	table.production.classes.high.signoffs.roles == ["validator", "compliance"]
}
