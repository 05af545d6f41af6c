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
#   A number as a person would write it in a message: 100, 0.80, 0.7999.
#   Two decimals when that is exact, so thresholds read like the matrix.
number_text(x) := text(x) if {
	not is_number(x)
} else := format_int(x, 10) if {
	x == round(x)
} else := sprintf("%.2f", [x]) if {
	round(x * 100) == x * 100
} else := sprintf("%v", [x])

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

misses_bound(value, "min", threshold) if value < threshold

misses_bound(value, "max", threshold) if value > threshold

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
