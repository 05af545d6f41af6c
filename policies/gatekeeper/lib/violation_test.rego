package gatekeeper.lib_test

import data.gatekeeper.lib
import data.gatekeeper.testdata as td

test_violation_document if {
	ctx := {"name": "m", "version": "1"}
	v := lib.violation(ctx, "pii.open_findings", "3 open", 3, 0) with data.gatekeeper.matrix as td.matrix
	v == {
		"requirement": "pii.open_findings", "model": "m", "version": "1", "message": "3 open",
		"observed": 3, "threshold": 0, "remediation": "Fixture remediation for pii.open_findings.",
	}
}

test_remediation_fallback if {
	advice := lib.remediation("custom.thing") with data.gatekeeper.matrix as td.matrix
	advice == "See requirement custom.thing in the requirement matrix."
}
