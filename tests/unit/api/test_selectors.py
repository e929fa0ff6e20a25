"""Label selectors: parsing, matching and error messages as k8s.io/apimachinery labels."""

from __future__ import annotations

import pytest

from kubesvc.api.selectors import (
    LabelSelector,
    format_labels,
    from_label_selector_dict,
    from_set,
    parse_label_selector,
)
from kubesvc.errors import BadRequest

# The regex hint upstream appends to key/value errors (its double spaces included).
QNAME_HINT = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_HINT = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("text", "labels", "want"),
    [
        ("app=web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app=web", {}, False),
        ("app==web", {"app": "web", "x": "y"}, True),
        ("app!=web", {}, True),  # != matches a missing key
        ("app!=web", {"app": "web"}, False),
        ("app in (web, db)", {"app": "db"}, True),
        ("app in (web,db)", {"app": "cache"}, False),
        ("app notin (web,db)", {}, True),
        ("app notin (web,db)", {"app": "web"}, False),
        ("app", {"app": ""}, True),
        ("app", {"other": "x"}, False),
        ("!app", {"other": "x"}, True),
        ("!app", {"app": "x"}, False),
        ("app=web,tier=fe", {"app": "web", "tier": "fe"}, True),
        ("app=web,tier=fe", {"app": "web", "tier": "be"}, False),
        ("app=", {"app": ""}, True),  # empty value is a value
        ("app in ()", {"app": ""}, True),
        ("x in (foo,,baz)", {"x": ""}, True),
        ("size>5", {"size": "10"}, True),
        ("size>5", {"size": "3"}, False),
        ("size<5", {"size": "x"}, False),
        ("example.com/app=web", {"example.com/app": "web"}, True),
        ("", {"anything": "goes"}, True),
        ("  app  =  web  ", {"app": "web"}, True),
    ],
)
def test_parse_and_match(text: str, labels: dict[str, str], want: bool) -> None:
    assert parse_label_selector(text).matches(labels) is want


def test_string_form_is_sorted_by_key_with_sorted_values() -> None:
    sel = parse_label_selector("tier notin (b,a),app in (web, db),!gone,here")
    assert str(sel) == "app in (db,web),!gone,here,tier notin (a,b)"
    assert str(parse_label_selector("a==b,c!=d,e>1")) == "a==b,c!=d,e>1"


def test_empty_and_exact_pairs() -> None:
    assert parse_label_selector("").empty
    sel = parse_label_selector("app=web,tier in (fe),env notin (x),k==v,y")
    assert not sel.empty
    assert sel.exact_pairs == (("app", "web"), ("k", "v"), ("tier", "fe"))
    assert sel.requires_exact_match("tier") == "fe"
    assert sel.requires_exact_match("env") is None
    assert sel.requires_exact_match("missing") is None
    assert [r.key for r in sel.requirements] == ["app", "env", "k", "tier", "y"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("a=(", "unable to parse requirement: found '(', expected: identifier"),
        ("a,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' "
                "operators, the value must be an integer"),
        ("x=a$b", f'unable to parse requirement: values[0][x]: Invalid value: "a$b": {VALUE_HINT}'),
        ("app/=x", 'unable to parse requirement: <nil>: Invalid value: "app/": name part must '
                   f"be non-empty; name part {QNAME_HINT}"),
        ("/x", 'unable to parse requirement: <nil>: Invalid value: "/x": prefix part must be '
               "non-empty"),
        ("-bad=x", f'unable to parse requirement: <nil>: Invalid value: "-bad": name part '
                   f"{QNAME_HINT}"),
        # Seen from a real cluster: `kubectl get pods -l "app:monolith"`.
        ("app:monolith", 'unable to parse requirement: <nil>: Invalid value: "app:monolith": '
                         f"name part {QNAME_HINT}"),
        ("app.kubernetes_io/name=x",
         'unable to parse requirement: <nil>: Invalid value: "app.kubernetes_io/name": prefix '
         "part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
         "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
         "'example.com', regex used for validation is "
         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
    ],
)
def test_parse_errors_use_upstream_wording(text: str, message: str) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_label_selector(text)
    assert str(exc.value) == message
    assert exc.value.status()["code"] == 400
    assert exc.value.status()["reason"] == "BadRequest"


def test_two_bad_values_aggregate_in_brackets() -> None:
    with pytest.raises(BadRequest) as exc:
        parse_label_selector("k in (a$,b$)")
    msg = str(exc.value)
    assert msg.startswith('unable to parse requirement: [values[0][k]: Invalid value: "a$": ')
    assert ', values[1][k]: Invalid value: "b$": ' in msg
    assert msg.endswith("')]")


def test_key_too_long() -> None:
    with pytest.raises(BadRequest, match="name part must be no more than 63 characters"):
        parse_label_selector("a" * 64)


def test_label_selector_dict_semantics() -> None:
    # nil *LabelSelector selects nothing; {} selects everything.
    assert not from_label_selector_dict(None).matches({"a": "b"})
    assert from_label_selector_dict(None).matches_nothing
    assert from_label_selector_dict({}).matches({"a": "b"})
    assert from_label_selector_dict({}).empty
    sel = from_label_selector_dict({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["fe", "be"]},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
            {"key": "team", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    })
    assert sel.matches({"app": "web", "tier": "fe", "team": "a"})
    assert not sel.matches({"app": "web", "tier": "fe", "team": "a", "legacy": "1"})
    assert not sel.matches({"app": "web", "tier": "fe", "team": "a", "env": "dev"})
    assert not sel.matches({"app": "web", "tier": "qa", "team": "a"})
    assert str(sel) == "app=web,env notin (dev),!legacy,team,tier in (be,fe)"


def test_label_selector_dict_errors() -> None:
    with pytest.raises(BadRequest, match=r'^"Bogus" is not a valid label selector operator$'):
        from_label_selector_dict({"matchExpressions": [{"key": "a", "operator": "Bogus"}]})
    with pytest.raises(BadRequest, match="values set can't be empty"):
        from_label_selector_dict({"matchExpressions": [{"key": "a", "operator": "In"}]})
    with pytest.raises(BadRequest, match="values set must be empty for exists"):
        from_label_selector_dict(
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})
    with pytest.raises(BadRequest, match=r"^key: Invalid value: \"a b\": "):
        from_label_selector_dict({"matchLabels": {"a b": "x"}})


def test_service_selector_semantics() -> None:
    # A Service with no selector selects no Pods (its endpoints are managed externally).
    assert not from_set(None).matches({"app": "web"})
    assert not from_set({}).matches({})
    sel = from_set({"app": "my-app", "tier": "web"})
    assert sel.matches({"app": "my-app", "tier": "web", "pod-template-hash": "x"})
    assert not sel.matches({"app": "my-app"})
    assert sel.exact_pairs == (("app", "my-app"), ("tier", "web"))
    assert str(sel) == "app=my-app,tier=web"


def test_everything_nothing_equality() -> None:
    assert LabelSelector.everything() == parse_label_selector("")
    assert LabelSelector.nothing() != LabelSelector.everything()
    assert parse_label_selector("b=1,a=2") == parse_label_selector("a=2,b=1")
    assert len({parse_label_selector("a=1"), parse_label_selector("a=1")}) == 1


def test_format_labels() -> None:
    assert format_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    assert format_labels({}) == "<none>"
    assert format_labels(None) == "<none>"
