"""`gatekeeper policy new FAMILY`: scaffold a requirement family a compliance officer fills in.

It writes the four things a family needs (README "Adding a requirement"): the module
`requirements/<family>.rego` with its rule and an empty condition, its `_test.rego` (both
sides of the rule at every risk class), the family's entry under each chosen risk class of
the matrix, and a remediation text for its requirement ID; its ID is entered in the
regulation map as unmapped, with the references it serves to fill in. `gatekeeper policy test` passes
on the scaffold as written; the requirement denies as soon as its condition is filled in.
The matrix is edited as text, so its comments stay; it is read back to prove the edit.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

RISK_CLASSES = ("minimal", "limited", "high")  # prohibited models are never admitted: nothing to add
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ScaffoldError(ValueError):
    """The family cannot be scaffolded as asked (the message is one line for the user)."""


MODULE = '''# {title}: FILL IN what this family requires of a model version, in a sentence.
# Settings in the requirement matrix (per risk class): {family}: {{...}}, e.g. thresholds.
package gatekeeper.requirements.{family}

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {{"{family}"}}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {{"{requirement}"}}

# METADATA
# description: one violation per problem, for the classes whose matrix entry has {family}
violations contains v if {{
	some ctx in lib.assessed
	settings := ctx.requirements.{family}
	is_object(settings)
	some message in problems(ctx.evidence, settings)
	v := lib.violation(ctx, "{requirement}", message, null, null)
}}

# METADATA
# description: |
#   FILL IN the condition: why the evidence bundle (evidence) does not meet the
#   settings of the model's class (settings), one message each; none means it meets
#   them. For example, a model owned outside the domain the matrix names
#   ({family}: {{domain: bank.example}}):
#     problems(evidence, settings) := {{message |
#         owner := lib.text(object.get(evidence, "owner", ""))
#         not endswith(owner, concat("", ["@", settings.domain]))
#         message := sprintf("owner %s is not in %s", [owner, settings.domain])
#     }}
problems(evidence, settings) := set() if {{
	# FILL IN: replace this rule with the condition (see above)
	is_object(evidence)
	is_object(settings)
}}
'''

TEST = '''package gatekeeper.requirements.{family}_test

import data.gatekeeper.requirements.{family}
import data.gatekeeper.testdata as td

# The classes the matrix requires {family} at. These tests pin their own matrix: the test
# matrix with {family} added there, so a change of the shipped matrix leaves them alone.
required_at := {classes}

# FILL IN, with the condition: the settings the tests give {family} (e.g. {{"domain": "bank.example"}})
# and evidence that meets them, as a change of the test bundle (e.g. {{"owner": "risk@bank.example"}}).
settings := {{}}

meeting := {{}}

# The register classifies each fixture as the class it is judged at (td.registered).
matrix := object.union(td.matrix, {{"risk_classes": {{class: {{"{family}": settings}} | some class in required_at}}}})

found(model) := ids if {{
	ids := td.ids({family}.violations) with input as td.input_of([model]) with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
}}

# The rule with a condition that finds a problem (whatever the condition is).
found_failing(model) := ids if {{
	ids := td.ids({family}.violations) with input as td.input_of([model])
		with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
		with {family}.problems as {{"a problem"}}
}}

test_met_at_every_class if {{
	every class in td.classes {{
		found(td.model_with(class, {{"evidence": meeting}})) == set()
	}}
}}

test_unmet_at_every_class if {{
	every class in td.classes {{
		found_failing(td.model(class)) == td.expect(class, required_at, {{"{requirement}"}})
	}}
}}

test_message if {{
	violations := {family}.violations with input as td.input_for("{first}")
		with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
		with {family}.problems as {{"a problem"}}
	[[v.requirement, v.message] | some v in violations] == [["{requirement}", "a problem"]]
}}

# FILL IN, with the condition: evidence that does not meet it, e.g.
#   test_owner_outside_the_domain if {{
#       every class in td.classes {{
#           model := td.model_with(class, {{"evidence": {{"owner": "someone@elsewhere.example"}}}})
#           found(model) == td.expect(class, required_at, {{"{requirement}"}})
#       }}
#   }}
'''

REMEDIATION = '''  {requirement}: >-
    FILL IN what a person should do to meet {requirement} ({family}, README "Adding a requirement").
'''


UNMAPPED = '''  {requirement}:
    unmapped: >-
      FILL IN the references {requirement} serves (e.g. eu_ai_act: [Art. 10]), or why it serves none.
'''


def scaffold(policy_dir: Path, family: str, classes: list[str]) -> list[Path]:
    """Write the family's module and test and add it to the matrix; the files changed."""
    if not NAME.match(family):
        raise ScaffoldError(f"family name '{family}' must be lower case letters, digits and _ (a Rego package name)")
    wrong = [c for c in classes if c not in RISK_CLASSES]
    if wrong or not classes:
        raise ScaffoldError(f"risk class '{(wrong or [''])[0]}' cannot require a family (choose from: {', '.join(RISK_CLASSES)})")
    root = policy_dir / "gatekeeper"
    module = root / "requirements" / f"{family}.rego"
    test = root / "requirements" / f"{family}_test.rego"
    matrix = root / "matrix" / "requirements.yaml"
    for path in (module, test):
        if path.exists():
            raise ScaffoldError(f"{path} already exists: the family '{family}' has a module")
    try:
        text = matrix.read_text(encoding="utf-8")
        document = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ScaffoldError(f"cannot read the requirement matrix {matrix}: {' '.join(str(exc).split())}") from None
    requirement = f"{family}.required"
    ordered = [c for c in RISK_CLASSES[::-1] if c in classes]  # most severe first, as the matrix lists them
    text = _add_to_matrix(text, matrix, family, requirement, ordered, document)

    module.write_text(MODULE.format(title=family.replace("_", " ").capitalize(), family=family,
                                    requirement=requirement), encoding="utf-8")
    test.write_text(TEST.format(family=family, requirement=requirement, first=ordered[0],
                                classes="{" + ", ".join(f'"{c}"' for c in ordered) + "}"), encoding="utf-8")
    regulations = root / "regulations" / "map.yaml"
    mapped = _add_to_map(regulations, requirement) if regulations.exists() else None
    matrix.write_text(text, encoding="utf-8")
    if mapped is None:
        return [module, test, matrix]
    regulations.write_text(mapped, encoding="utf-8")
    return [module, test, matrix, regulations]


def _add_to_map(path: Path, requirement: str) -> str:
    """The regulation map's text with the ID explicitly unmapped, its reason to fill in."""
    try:
        text = path.read_text(encoding="utf-8")
        document = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ScaffoldError(f"cannot read the regulation map {path}: {' '.join(str(exc).split())}") from None
    if requirement in (document.get("requirements") or {}):
        raise ScaffoldError(f"{path}: requirements already has '{requirement}'")
    header = re.search(r"^requirements:[ \t]*(#.*)?\n", text, flags=re.MULTILINE)
    if header is None:
        raise ScaffoldError(f"{path}: no 'requirements:' block to add '{requirement}' to")
    text = text[: header.end()] + UNMAPPED.format(requirement=requirement) + text[header.end():]
    if requirement not in (yaml.safe_load(text).get("requirements") or {}):
        raise ScaffoldError(f"{path}: could not add '{requirement}' to the map as text (edit it by hand)")
    return text


def _add_to_matrix(text: str, matrix: Path, family: str, requirement: str, classes: list[str],
                   document: dict) -> str:
    """The matrix text with `family: {}` under each class and a remediation text; checked by reading it back."""
    for class_ in classes:
        entry = (document.get("risk_classes") or {}).get(class_)
        if isinstance(entry, dict) and family in entry:
            raise ScaffoldError(f"{matrix}: risk_classes.{class_} already has '{family}'")
        header = re.search(rf"^  {class_}:[ \t]*(#.*)?\n", text, flags=re.MULTILINE)
        if header is None:
            raise ScaffoldError(f"{matrix}: no block 'risk_classes.{class_}:' to add '{family}' to")
        text = text[: header.end()] + f"    {family}: {{}}  # FILL IN its settings, e.g. {{domain: bank.example}}\n" + text[header.end():]
    if requirement in (document.get("remediation") or {}):
        raise ScaffoldError(f"{matrix}: remediation already has '{requirement}'")
    header = re.search(r"^remediation:[ \t]*(#.*)?\n", text, flags=re.MULTILINE)
    if header is None:
        raise ScaffoldError(f"{matrix}: no 'remediation:' block to add '{requirement}' to")
    text = text[: header.end()] + REMEDIATION.format(requirement=requirement, family=family) + text[header.end():]
    written = yaml.safe_load(text)
    if not all(written["risk_classes"][c].get(family) == {} for c in classes) or requirement not in written["remediation"]:
        raise ScaffoldError(f"{matrix}: could not add '{family}' to the matrix as text (edit it by hand)")
    return text
