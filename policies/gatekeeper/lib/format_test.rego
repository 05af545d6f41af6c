package gatekeeper.lib_test

import data.gatekeeper.lib

test_text if {
	lib.text("a") == "a"
	lib.text(null) == ""
	lib.text(3) == "3"
	lib.text(true) == "true"
}

test_number_text if {
	lib.number_text(100) == "100"
	lib.number_text(0.8) == "0.80"
	lib.number_text(0.62) == "0.62"
	lib.number_text(0.7999) == "0.7999"
	lib.number_text(1.0) == "1"
	lib.number_text("many") == "many"
	lib.number_text(null) == ""
}

test_filled if {
	lib.filled("x")
	not lib.filled(" \t")
	not lib.filled(7)
	not lib.filled(null)
}

test_as_object_and_array if {
	lib.as_object({"a": 1}) == {"a": 1}
	lib.as_object([1]) == {}
	lib.as_array([1]) == [1]
	lib.as_array("x") == []
}

test_observed_values_are_judged_at_6_decimals if {
	not lib.misses_bound(0.09999999999999998, "max", 0.1)
	not lib.misses_bound(0.10000000000000003, "max", 0.1)
	lib.misses_bound(0.100001, "max", 0.1)
	not lib.misses_bound(0.7999999999999999, "min", 0.8)
	lib.misses_bound(0.799999, "min", 0.8)
	lib.number_text(0.10000000000000003) == "0.10"
	lib.number_text(0.6153846153846154) == "0.615385"
}

test_model_label if {
	lib.model_label("credit-risk", "3") == "credit-risk@3"
	lib.model_label("credit-risk", null) == "credit-risk"
	lib.model_label("credit-risk", "") == "credit-risk"
}

test_misses_bound if {
	not lib.misses_bound(0.8, "min", 0.8)
	lib.misses_bound(0.79, "min", 0.8)
	not lib.misses_bound(250, "max", 250)
	lib.misses_bound(251, "max", 250)
	every value in [null, "0.9", true, [1]] {
		lib.misses_bound(value, "min", 0.8)
		lib.misses_bound(value, "max", 0.8)
	}
}
