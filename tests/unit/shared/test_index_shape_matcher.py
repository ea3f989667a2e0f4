"""The index-shape matcher (tests/support/query_shapes.py): which declared index serves
which query shape by the ESR rule, and how recorded commands become shapes."""

from __future__ import annotations

from alliance_shared.persistence.mongo import IndexSpec
from tests.support.query_shapes import QueryShape, command_shapes, filter_shapes, serves, unserved

BY_STATUS = IndexSpec("awards", (("status", 1), ("_id", 1)))
BY_PARTY_STATUS_DUE = IndexSpec("awards", (("party_ids", 1), ("status", 1), ("due_at", 1)))


def shape(
    equality: set[str] | None = None, ranges: set[str] | None = None, sort: tuple[tuple[str, int], ...] = ()
) -> QueryShape:
    return QueryShape("awards", frozenset(equality or ()), frozenset(ranges or ()), sort)


def test_equality_prefix_in_any_order_then_sort_then_range_is_served() -> None:
    assert serves(BY_STATUS, shape({"status"}, sort=(("_id", 1),)))
    assert serves(BY_STATUS, shape({"status"}, {"_id"}, (("_id", 1),)))  # a page after a cursor
    assert serves(BY_STATUS, shape({"status"}, sort=(("_id", -1),)))  # all reversed
    assert serves(BY_PARTY_STATUS_DUE, shape({"status", "party_ids"}, {"due_at"}))
    assert serves(BY_PARTY_STATUS_DUE, shape({"party_ids"}, sort=(("status", -1), ("due_at", -1))))
    assert serves(BY_STATUS, shape({"status"}))  # an equality prefix alone


def test_shapes_the_index_cannot_serve_are_refused() -> None:
    assert not serves(BY_STATUS, shape({"programme_id"}, sort=(("_id", 1),)))  # another field
    assert not serves(BY_STATUS, shape(sort=(("_id", 1),)))  # equality field missing: not a prefix
    assert not serves(BY_STATUS, shape({"status", "programme_id"}))  # an equality field outside the index
    assert not serves(BY_PARTY_STATUS_DUE, shape({"party_ids"}, {"due_at"}))  # range before its place
    assert not serves(BY_PARTY_STATUS_DUE, shape({"party_ids"}, sort=(("status", 1), ("due_at", -1))))  # mixed
    assert not serves(BY_PARTY_STATUS_DUE, shape({"party_ids", "status"}, sort=(("_id", 1),)))  # sort not held
    assert not serves(IndexSpec("other", (("status", 1),)), shape({"status"}))  # another collection


def test_a_unique_index_bound_by_equality_serves_whatever_else_the_filter_says() -> None:
    by_id = IndexSpec("awards", (("_id", 1),), unique=True)
    assert serves(by_id, shape({"_id", "partner_id"}, {"version"}))
    assert not serves(IndexSpec("awards", (("_id", 1), ("x", 1)), unique=True), shape({"_id"}, {"version"}))


def test_unserved_lists_each_missing_shape_once_and_counts_id_filters_served() -> None:
    shapes = [
        shape({"_id"}),
        shape(ranges={"_id"}, sort=(("_id", 1),)),
        shape(),  # the whole collection in `_id` order
        shape({"status"}, sort=(("_id", 1),)),
        shape({"recipient_id"}),
        shape({"recipient_id"}),
    ]
    assert unserved([BY_STATUS], shapes) == [shape({"recipient_id"})]


def test_filters_become_equality_and_range_fields() -> None:
    query = {
        "status": "active",
        "kind": {"$in": ["a", "b"]},
        "read_at": None,
        "sector_code": {"$regex": "^C"},
        "amount": {"$gte": 1, "$lt": 9},
        "$and": [{"year": 2026}, {"due_at": {"$lte": 5}}],
    }
    [found] = filter_shapes("awards", query, {"_id": 1})
    assert found.equality == {"status", "kind", "read_at", "year"}
    assert found.ranges == {"sector_code", "amount", "due_at"}
    assert found.sort == (("_id", 1),)


def test_each_or_branch_is_a_shape_of_its_own() -> None:
    found = filter_shapes("partners", {"kind": "college", "$or": [{"name_zh": "x"}, {"name_en": {"$regex": "x"}}]})
    assert found == [
        QueryShape("partners", frozenset({"kind", "name_zh"})),
        QueryShape("partners", frozenset({"kind"}), frozenset({"name_en"})),
    ]


def test_commands_become_shapes() -> None:
    assert command_shapes("find", {"find": "awards", "filter": {"_id": "a"}}) == [
        QueryShape("awards", frozenset({"_id"}))
    ]
    head = command_shapes("find", {"find": "audit", "filter": {}, "sort": {"_id": -1}, "limit": -1})
    assert head == [QueryShape("audit", sort=(("_id", -1),))]
    assert head[0].limit == 1
    assert command_shapes("update", {"update": "awards", "updates": [{"q": {"status": "x"}, "u": {}}]}) == [
        QueryShape("awards", frozenset({"status"}))
    ]
    assert command_shapes("delete", {"delete": "awards", "deletes": [{"q": {"_id": "a"}, "limit": 1}]})[0].by_id
    counted = command_shapes("aggregate", {"aggregate": "inbox", "pipeline": [{"$match": {"r": 1}}, {"$group": {}}]})
    assert counted == [QueryShape("inbox", frozenset({"r"}))]
    sorted_page = command_shapes(
        "aggregate", {"aggregate": "a", "pipeline": [{"$match": {"r": 1}}, {"$sort": {"t": -1}}]}
    )
    assert sorted_page == [QueryShape("a", frozenset({"r"}), sort=(("t", -1),))]
    assert command_shapes("insert", {"insert": "awards", "documents": []}) == []


def test_reads_by_id_are_told_apart() -> None:
    assert shape({"_id", "partner_id"}).by_id
    assert shape(ranges={"_id"}, sort=(("_id", 1),)).by_id
    assert not shape({"status"}).by_id
    assert not shape().by_id  # the whole collection
    assert not shape(sort=(("_id", 1),)).by_id  # the whole collection, in `_id` order
    assert QueryShape("audit", sort=(("_id", -1),), limit=1).by_id  # the newest by `_id`
    assert not QueryShape("audit", frozenset({"entity"}), sort=(("_id", -1),), limit=1).by_id
