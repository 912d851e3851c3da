"""The page document rules and patch application (pure)."""

import pytest

from lowcode.pages.document import (
    DocumentLimits,
    apply_patch,
    encoded_size,
    new_document,
    validate_document,
)
from lowcode.pages.errors import InvalidDocument, PageTooLarge, PatchFailed

LIMIT = DocumentLimits()


def doc_with_child():
    doc = new_document("Home")
    root = doc["rootId"]
    doc["components"]["btn"] = {"id": "btn", "name": "Button", "props": {}, "children": []}
    doc["components"][root]["children"].append("btn")
    return doc


def test_a_new_document_is_valid():
    validate_document(new_document(), LIMIT)


def test_patch_application_does_not_modify_its_input():
    doc = new_document()
    root = doc["rootId"]
    after = apply_patch(doc, [{"op": "add", "path": f"/components/{root}/props/a", "value": 1}])
    assert after["components"][root]["props"] == {"a": 1}
    assert doc["components"][root]["props"] == {}


def test_a_failing_patch_names_the_index_of_the_broken_operation():
    doc = new_document()
    root = doc["rootId"]
    with pytest.raises(PatchFailed) as err:
        apply_patch(
            doc,
            [
                {"op": "add", "path": f"/components/{root}/props/a", "value": 1},
                {"op": "test", "path": f"/components/{root}/props/a", "value": 2},
            ],
        )
    assert err.value.extra["opIndex"] == 1


@pytest.mark.parametrize(
    "bad_op",
    [
        {"op": "remove", "path": "/nothing"},
        {"op": "replace", "path": "no-leading-slash", "value": 1},
        {"op": "move", "from": "/missing", "path": "/x"},
        {"op": "add", "path": "/components/x/y/z", "value": 1},
    ],
)
def test_malformed_or_impossible_operations_fail_cleanly(bad_op):
    with pytest.raises(PatchFailed):
        apply_patch(new_document(), [bad_op])


def test_root_must_exist():
    doc = new_document()
    doc["rootId"] = "gone"
    with pytest.raises(InvalidDocument) as err:
        validate_document(doc, LIMIT)
    assert err.value.errors[0].field == "rootId"


def test_children_must_be_components_and_all_problems_are_listed():
    doc = doc_with_child()
    root = doc["rootId"]
    doc["components"][root]["children"] += ["ghost", "phantom"]
    with pytest.raises(InvalidDocument) as err:
        validate_document(doc, LIMIT)
    assert [e.field for e in err.value.errors] == [
        f"components.{root}.children.1",
        f"components.{root}.children.2",
    ]


def test_component_ids_must_match_their_keys():
    doc = doc_with_child()
    doc["components"]["btn"]["id"] = "other"
    with pytest.raises(InvalidDocument):
        validate_document(doc, LIMIT)


def test_cycles_and_shared_children_are_rejected():
    doc = doc_with_child()
    doc["components"]["btn"]["children"] = [doc["rootId"]]
    with pytest.raises(InvalidDocument):
        validate_document(doc, LIMIT)
    doc = doc_with_child()
    doc["components"]["box"] = {"id": "box", "name": "Box", "props": {}, "children": ["btn"]}
    doc["components"][doc["rootId"]]["children"].append("box")
    with pytest.raises(InvalidDocument):
        validate_document(doc, LIMIT)


def test_size_limit_counts_encoded_bytes():
    doc = new_document()
    doc["components"][doc["rootId"]]["props"]["blob"] = "é" * 600
    assert encoded_size(doc) > 1200
    with pytest.raises(PageTooLarge):
        validate_document(doc, DocumentLimits(max_bytes=1000))
