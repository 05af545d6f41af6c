# The requirement matrix as the console's policy page shows it (README "The console"):
# for each environment its enforcement and what each risk class requires there, the
# overrides merged in by the same functions every decision uses, so the page cannot
# show other rules than the gate applies.
package gatekeeper.console

import data.gatekeeper.lib

# METADATA
# title: Requirement table
# description: |
#   environment -> {"enforcement": deny | warn | dryrun, "classes": {risk class ->
#   its requirements in that environment}}.
# entrypoint: true
requirement_table[environment] := {"enforcement": lib.enforcement_of(environment), "classes": classes} if {
	some environment in lib.environment_names
	classes := {class: requirements |
		some class in lib.risk_classes
		requirements := lib.requirements_in(class, environment)
	}
}
