package gatekeeper.lib_test

import data.gatekeeper.lib
import data.gatekeeper.testdata as td

test_violation_document if {
	ctx := {"name": "m", "version": "1"}
	v := lib.violation(ctx, "pii.open_findings", "3 open", 3, 0) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.regulations as td.regulations
	v == {
		"requirement": "pii.open_findings", "model": "m", "version": "1", "message": "3 open",
		"observed": 3, "threshold": 0, "remediation": "Fixture remediation for pii.open_findings.",
		"references": [
			{"text": "eu", "id": "Art. 10", "label": "EU Act Art. 10", "title": "Data", "version": "2024/1"},
			{"text": "nist", "id": "MEASURE 2.10", "label": "NIST MEASURE 2.10", "title": "", "version": "1.0"},
		],
		"citation": "EU Act Art. 10",
	}
}

test_remediation_fallback if {
	advice := lib.remediation("custom.thing") with data.gatekeeper.matrix as td.matrix
	advice == "See requirement custom.thing in the requirement matrix."
}
