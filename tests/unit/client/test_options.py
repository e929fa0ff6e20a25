"""The Client verb options: frozen, and their wire forms (query parameters, DeleteOptions
body) hold only what differs from the default."""

from __future__ import annotations

import dataclasses

import pytest

from kubesvc.client.options import DeleteOptions, ListOptions, WatchOptions, WriteOptions


def test_defaults_send_nothing_but_the_watch_flags() -> None:
    assert ListOptions().query() == {}
    assert WriteOptions().query() == {}
    assert DeleteOptions().query() == {} and DeleteOptions().body() is None
    assert WatchOptions().query() == {"watch": "true", "allowWatchBookmarks": "true"}
    assert WatchOptions(allow_bookmarks=False).query() == {"watch": "true"}


def test_list_and_watch_query() -> None:
    opts = ListOptions(label_selector="a=b", field_selector="metadata.name=x",
                       resource_version="5", resource_version_match="Exact", limit=3,
                       continue_token="tok")
    assert opts.query() == {
        "labelSelector": "a=b", "fieldSelector": "metadata.name=x", "resourceVersion": "5",
        "resourceVersionMatch": "Exact", "limit": "3", "continue": "tok",
    }
    assert WatchOptions(label_selector="a", resource_version="7", timeout_seconds=30).query() \
        == {"watch": "true", "labelSelector": "a", "resourceVersion": "7",
            "allowWatchBookmarks": "true", "timeoutSeconds": "30"}


def test_write_query() -> None:
    assert WriteOptions(dry_run=True, field_validation="Strict", field_manager="me",
                        force=True).query() == {
        "dryRun": "All", "fieldValidation": "Strict", "fieldManager": "me", "force": "true",
    }


def test_delete_body_keeps_an_explicit_zero_grace_period() -> None:
    opts = DeleteOptions(propagation_policy="Foreground", grace_period_seconds=0,
                         preconditions={"uid": "u"}, dry_run=True, orphan_dependents=False)
    assert opts.body() == {
        "kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground",
        "gracePeriodSeconds": 0, "preconditions": {"uid": "u"}, "orphanDependents": False,
        "dryRun": ["All"],
    }
    assert opts.query() == {"dryRun": "All"}


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ListOptions().limit = 1  # type: ignore[misc]
