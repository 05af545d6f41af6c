"""Reading objects by the table's paths: document order, shape errors, and a depth no input
can push into a recursion limit (issue 27)."""

from __future__ import annotations

import sys

from gatekeeper.pipeline.object_paths import MAX_DEPTH, split, walk


def chain(levels: int, leaf: object) -> dict:
    """{"x": {"x": ... {"storageUri": leaf}}} with `levels` maps above the leaf's."""
    node: dict = {"storageUri": leaf}
    for _ in range(levels):
        node = {"x": node}
    return node


def test_values_come_in_document_order_at_every_depth():
    graph = {"spec": {"storageUri": "s3://a",
                      "graph": {"storageUri": "s3://b",
                                "children": [{"storageUri": "s3://c", "children": [{"storageUri": "s3://d"}]},
                                             {"storageUri": "s3://e"}]},
                      "other": {"storageUri": "s3://f"}}}
    found = walk(graph, split("spec.**.storageUri"), [])
    assert found == [("spec.storageUri", "s3://a"), ("spec.graph.storageUri", "s3://b"),
                     ("spec.graph.children[0].storageUri", "s3://c"),
                     ("spec.graph.children[0].children[0].storageUri", "s3://d"),
                     ("spec.graph.children[1].storageUri", "s3://e"), ("spec.other.storageUri", "s3://f")]


def test_shape_errors_only_while_the_path_is_literal():
    errors: list[str] = []
    assert walk({"spec": {"predictor": []}}, split("spec.predictor.model.storageUri"), errors) == []
    assert errors == ["spec.predictor: expected a map with `model`, found a list"]
    errors = []
    assert walk({"spec": {"a": 3, "b": {"storageUri": "s3://x"}}}, split("spec.**.storageUri"), errors) == [
        ("spec.b.storageUri", "s3://x")]
    assert errors == []  # past a wildcard, other fields may be anything


def test_an_object_as_deep_as_the_limit_is_read_whole():
    obj = {"spec": chain(MAX_DEPTH - 2, "s3://deep")}  # spec + the chain + storageUri: MAX_DEPTH levels
    errors: list[str] = []
    [(where, value)] = walk(obj, split("spec.**.storageUri"), errors)
    assert value == "s3://deep" and where.count(".x") == MAX_DEPTH - 2 and errors == []


def test_deeper_is_unreadable_said_once_and_never_a_recursion_error():
    levels = 50 * sys.getrecursionlimit()  # far past any recursion limit
    obj = {"spec": {"predictor": {"storageUri": "s3://kept"}, "extra": chain(levels, "s3://hidden")}}
    errors: list[str] = []
    found = walk(obj, split("spec.**.storageUri"), errors)
    assert found == [("spec.predictor.storageUri", "s3://kept")]
    [error] = errors
    assert error == f"spec.extra.x.x.x.x and below: nested over {MAX_DEPTH} levels deep, unreadable"
    assert walk(obj, split("spec.**.storageUri"), None) == found  # no list given: nothing said
