"""Aliases: atomic `_aliases` actions, reads and writes through an alias, alias lookups."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch, NotFoundError

from tests.test_es_double.helpers import create, error_body, expect_error, ids

pytestmark = pytest.mark.es


@pytest.fixture
def two_indices(es: Elasticsearch, index_prefix: str) -> tuple[str, str, str]:
    old, new, alias = f"{index_prefix}-old", f"{index_prefix}-new", f"{index_prefix}-movies"
    create(es, old, {"n": {"type": "integer"}})
    create(es, new, {"n": {"type": "integer"}})
    es.index(index=old, id="old", document={"n": 1}, refresh=True)
    es.index(index=new, id="new", document={"n": 2}, refresh=True)
    es.indices.update_aliases(actions=[{"add": {"index": old, "alias": alias}}])
    return old, new, alias


def test_swap_moves_reads_to_the_new_index(es: Elasticsearch, two_indices: tuple[str, str, str]) -> None:
    """remove + add in one `_aliases` call moves the alias atomically.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/indices.update_aliases/10_basic.yml
    """
    old, new, alias = two_indices
    es.indices.update_aliases(
        actions=[{"remove": {"index": old, "alias": alias}}, {"add": {"index": new, "alias": alias}}]
    )
    assert ids(es.search(index=alias)) == ["new"]


def test_failing_action_changes_nothing(
    es: Elasticsearch, two_indices: tuple[str, str, str], index_prefix: str
) -> None:
    """If one action names a missing index, the whole request fails (404) and no action is applied.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-update-aliases (atomic actions)
    """
    old, new, alias = two_indices
    missing = f"{index_prefix}-missing"
    error = expect_error(
        lambda: es.indices.update_aliases(
            actions=[
                {"remove": {"index": old, "alias": alias}},
                {"add": {"index": new, "alias": alias}},
                {"add": {"index": missing, "alias": alias}},
            ]
        ),
        404,
    )
    assert error_body(error)["type"] == "index_not_found_exception"
    assert list(es.indices.get_alias(name=alias).body) == [old]


def test_must_exist_failure_changes_nothing(
    es: Elasticsearch, two_indices: tuple[str, str, str], index_prefix: str
) -> None:
    """A `remove` with `must_exist: true` of a missing alias fails the request; the other actions do not apply.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/indices.update_aliases/40_must_exist.yml
    """
    old, new, alias = two_indices
    other = f"{index_prefix}-other-alias"
    error = expect_error(
        lambda: es.indices.update_aliases(
            actions=[
                {"remove": {"index": new, "alias": alias, "must_exist": True}},
                {"add": {"index": new, "alias": other}},
            ]
        ),
        404,
    )
    assert error_body(error)["type"] == "aliases_not_found_exception"
    assert not es.indices.exists_alias(name=other)


def test_remove_of_missing_alias_is_a_partial_success(
    es: Elasticsearch, two_indices: tuple[str, str, str], index_prefix: str
) -> None:
    """Without `must_exist`, removing a missing alias is reported per action while the rest applies.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/indices.update_aliases/40_must_exist.yml
    ("Partial success with must_exist == null (default)")
    """
    old, new, alias = two_indices
    other = f"{index_prefix}-alias1"
    response = es.indices.update_aliases(
        actions=[
            {"add": {"index": new, "alias": other}},
            {"remove": {"index": new, "alias": f"{index_prefix}-non-existing"}},
        ]
    )
    assert response["errors"] is True
    assert response["action_results"][0]["status"] == 200
    assert response["action_results"][1]["status"] == 404
    assert response["action_results"][1]["error"]["type"] == "aliases_not_found_exception"
    assert es.indices.exists_alias(name=other)


def test_successful_request_has_no_action_results(
    es: Elasticsearch, two_indices: tuple[str, str, str], index_prefix: str
) -> None:
    """`errors: false` and no `action_results` when every action succeeds.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/indices.update_aliases/40_must_exist.yml
    ("No action_results field if all actions successful")
    """
    _, new, _ = two_indices
    response = es.indices.update_aliases(actions=[{"add": {"index": new, "alias": f"{index_prefix}-x"}}])
    assert response["errors"] is False
    assert "action_results" not in response


def test_remove_index_and_replace_it_with_an_alias(es: Elasticsearch, index_prefix: str) -> None:
    """`remove_index` deletes an index in the same atomic step that adds an alias of its name.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/indices.update_aliases/30_remove_index_and_replace_with_alias.yml
    """
    test, test2 = f"{index_prefix}-test", f"{index_prefix}-test-2"
    create(es, test, {})
    create(es, test2, {})
    es.indices.update_aliases(actions=[{"add": {"index": test2, "aliases": [test]}}, {"remove_index": {"index": test}}])
    assert es.indices.exists_alias(name=test)
    assert list(es.indices.get(index=test).body) == [test2]


def test_alias_named_like_an_index_is_rejected(es: Elasticsearch, two_indices: tuple[str, str, str]) -> None:
    """An alias cannot take the name of an existing index.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-update-aliases
    """
    old, new, _ = two_indices
    error = expect_error(lambda: es.indices.update_aliases(actions=[{"add": {"index": new, "alias": old}}]), 400)
    assert error_body(error)["type"] == "invalid_alias_name_exception"


def test_get_and_head_alias(es: Elasticsearch, two_indices: tuple[str, str, str], index_prefix: str) -> None:
    """`GET /_alias/name` maps each index to its aliases; HEAD tells existence; a missing alias is 404.

    https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-get-alias
    """
    old, _, alias = two_indices
    assert es.indices.get_alias(name=alias).body == {old: {"aliases": {alias: {}}}}
    assert es.indices.get_alias(index=old).body == {old: {"aliases": {alias: {}}}}
    assert es.indices.exists_alias(name=alias)
    assert not es.indices.exists_alias(name=f"{index_prefix}-nope")
    with pytest.raises(NotFoundError) as info:
        es.indices.get_alias(name=f"{index_prefix}-nope")
    assert info.value.body["error"] == f"alias [{index_prefix}-nope] missing"


def test_get_count_mget_through_an_alias(es: Elasticsearch, two_indices: tuple[str, str, str]) -> None:
    """get, count and mget accept an alias pointing at one index; hits name the concrete index.

    https://www.elastic.co/docs/manage-data/data-store/aliases
    """
    old, _, alias = two_indices
    assert es.get(index=alias, id="old")["_index"] == old
    assert es.count(index=alias)["count"] == 1
    assert es.mget(index=alias, ids=["old"])["docs"][0]["_index"] == old


def test_write_through_an_alias_with_one_index(es: Elasticsearch, two_indices: tuple[str, str, str]) -> None:
    """Writes to an alias with a single index go to that index.

    https://www.elastic.co/docs/manage-data/data-store/aliases#write-index
    """
    old, _, alias = two_indices
    response = es.index(index=alias, id="w", document={"n": 3})
    assert response["_index"] == old


def test_search_over_alias_spanning_two_indices(es: Elasticsearch, two_indices: tuple[str, str, str]) -> None:
    """An alias over several indices searches them all.

    https://www.elastic.co/docs/manage-data/data-store/aliases
    """
    old, new, alias = two_indices
    es.indices.update_aliases(actions=[{"add": {"index": new, "alias": alias}}])
    assert sorted(ids(es.search(index=alias))) == ["new", "old"]


def test_action_results_name_the_resolved_indices(es: Elasticsearch, index_prefix: str) -> None:
    """Each action result lists the concrete indices its wildcard resolved to, add and remove alike.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/indices.update_aliases/40_must_exist.yml
    ("Single result per input action")
    """
    first, second = f"{index_prefix}-test_index1", f"{index_prefix}-test_index2"
    create(es, first, {})
    create(es, second, {})
    response = es.indices.update_aliases(
        actions=[
            {"add": {"index": f"{index_prefix}-test_index*", "aliases": f"{index_prefix}-test_alias1"}},
            {"remove": {"index": f"{index_prefix}-test_index*", "aliases": f"{index_prefix}-test_non_existing"}},
        ]
    )
    assert response["errors"] is True
    results = response["action_results"]
    assert len(results) == 2
    assert results[0] == {
        "action": {"type": "add", "indices": [first, second], "aliases": [f"{index_prefix}-test_alias1"]},
        "status": 200,
    }
    assert results[1]["action"] == {
        "type": "remove",
        "indices": [first, second],
        "aliases": [f"{index_prefix}-test_non_existing"],
    }
    assert (results[1]["status"], results[1]["error"]["type"]) == (404, "aliases_not_found_exception")


def test_get_alias_all_lists_only_indices_with_aliases(
    es: Elasticsearch, two_indices: tuple[str, str, str], index_prefix: str
) -> None:
    """`GET /_alias/_all` and `/_alias/*` leave out indices without aliases; `GET /_alias` lists them.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/indices.get_alias/10_basic.yml
    ("Get aliases via /_alias/_all", "Get aliases via /_alias/*", "Get all aliases via /_alias")
    """
    old, new, alias = two_indices
    for name in ("_all", "*"):
        body = es.indices.get_alias(name=name).body
        assert body.get(old) == {"aliases": {alias: {}}}, name
        assert new not in body, name
    assert es.indices.get_alias().body[new] == {"aliases": {}}


def test_several_missing_aliases_are_named_sorted(
    es: Elasticsearch, two_indices: tuple[str, str, str], index_prefix: str
) -> None:
    """Several missing names: 404 "aliases [a,b] missing" (sorted) with the aliases that exist.

    rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/indices.get_alias/10_basic.yml
    ("Existent and non-existent aliases returns 404 and the existing alias")
    """
    old, _, alias = two_indices
    with pytest.raises(NotFoundError) as info:
        es.indices.get_alias(index=old, name=f"{alias},{index_prefix}-zz-missing,{index_prefix}-aa-missing")
    body = info.value.body
    assert body["error"] == f"aliases [{index_prefix}-aa-missing,{index_prefix}-zz-missing] missing"
    assert body[old] == {"aliases": {alias: {}}}
