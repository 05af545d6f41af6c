# Many decisions in one query: input {"items": [<input document>, ...]}.
package gatekeeper.batch

# METADATA
# title: Batch of admission decisions
# description: one decision per item of input.items, in the same order
# entrypoint: true
decisions := [decision |
	some item in input.items

	# Each item is decided as if it were the whole input: that takes `with` outside
	# a test, and `with` needs an expression of its own.
	# regal ignore:with-outside-test-context,comprehension-term-assignment
	decision := data.gatekeeper.decision with input as item
]
