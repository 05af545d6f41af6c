# Small value helpers shared by every requirement family.
package gatekeeper.lib

# METADATA
# description: x as a string for messages and comparisons ("" for null or absent)
text(x) := x if {
	is_string(x)
} else := "" if {
	x == null
} else := sprintf("%v", [x])

# METADATA
# description: |
#   Observed values are judged at 6 decimal places (README "Precision"): floating-point
#   noise such as 0.09999999999999998 for a parity difference of 0.1 must not decide.
precision := 1000000

# METADATA
# description: a number rounded to the declared precision
at_precision(x) := round(x * precision) / precision

# METADATA
# description: |
#   A number as a person would write it in a message: 100, 0.80, 0.7999, at most 6 decimals.
#   Two decimals when that is exact, so thresholds read like the matrix.
number_text(x) := text(x) if {
	not is_number(x)
} else := format_int(at_precision(x), 10) if {
	at_precision(x) == round(x)
} else := sprintf("%.2f", [at_precision(x)]) if {
	round(x * 100) == at_precision(x) * 100
} else := sprintf("%v", [at_precision(x)])

# METADATA
# description: |
#   how a line names a model: name@version, or the name alone when no version is known
#   (an alias that did not resolve), never "name@"
model_label(name, version) := sprintf("%s@%s", [name, text(version)]) if {
	text(version) != ""
} else := text(name)

# METADATA
# description: true when x is a string with something other than white space
filled(x) if {
	is_string(x)
	trim_space(x) != ""
}

# METADATA
# scope: document
# description: |
#   true when value misses a matrix threshold: it is not a number, or it lies below
#   a "min" or above a "max" threshold. Undefined for a value within bounds, so
#   families test this before they describe the miss (most values pass).
misses_bound(value, _, _) if not is_number(value)

misses_bound(value, "min", threshold) if at_precision(value) < threshold

misses_bound(value, "max", threshold) if at_precision(value) > threshold

# METADATA
# description: x when it is an object, otherwise {}
as_object(x) := x if {
	is_object(x)
} else := {}

# METADATA
# description: x when it is an array, otherwise []
as_array(x) := x if {
	is_array(x)
} else := []
