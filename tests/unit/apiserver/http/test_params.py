"""Request parsing into the Client's option classes: the server-side defaults (Warn when no
fieldValidation is sent, no bookmarks unless asked) and upstream's DeleteOptions rules."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from kubesvc import errors
from kubesvc.apiserver.http import params
from kubesvc.client.options import DeleteOptions, ListOptions, WriteOptions


def test_list_options_round_trip_the_client_query() -> None:
    sent = ListOptions(label_selector="a=b", field_selector="metadata.name=x",
                       resource_version="5", resource_version_match="Exact", limit=3,
                       continue_token="tok")
    assert params.list_options(MultiDict(sent.query())) == sent
    assert params.list_options(MultiDict({"limit": "-4"})).limit == 0
    with pytest.raises(errors.BadRequest, match="invalid value for limit"):
        params.list_options(MultiDict({"limit": "x"}))


def test_write_options_default_to_warn_as_upstream() -> None:
    assert params.write_options(MultiDict()) == WriteOptions(field_validation="Warn")
    sent = WriteOptions(dry_run=True, field_validation="Strict", field_manager="me", force=True)
    assert params.write_options(MultiDict(sent.query()), options_kind="PatchOptions") == sent
    with pytest.raises(errors.Invalid, match=r'UpdateOptions\.meta\.k8s\.io "" is invalid'):
        params.write_options(MultiDict({"fieldValidation": "Loud"}),
                             options_kind="UpdateOptions")


def test_delete_options_body_overrides_query_and_orphan_maps_to_a_policy() -> None:
    sent = DeleteOptions(propagation_policy="Foreground", grace_period_seconds=0,
                         preconditions={"uid": "u"}, dry_run=True)
    assert params.delete_options(MultiDict({"gracePeriodSeconds": "9"}), sent.body()) == sent
    got = params.delete_options(MultiDict({"orphanDependents": "false"}), None)
    assert got == DeleteOptions(propagation_policy="Background", orphan_dependents=False)
    with pytest.raises(errors.Invalid, match="cannot be both set"):
        params.delete_options(MultiDict({"orphanDependents": "true",
                                         "propagationPolicy": "Orphan"}), None)
