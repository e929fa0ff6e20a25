"""``kubesvc up`` flags: how they reach :class:`kubesvc.cli.up.UpOptions`, and the errors
for bad values."""

from __future__ import annotations

import pytest

from kubesvc.cli.commands import build_parser
from kubesvc.cli.serving import Serving
from kubesvc.cli.up import UpOptions


def test_max_pods_reaches_the_options() -> None:
    o = UpOptions.from_args(build_parser().parse_args(
        ["up", "--runtime", "simulated", "--max-pods", "120000", "--pod-cidr",
         "10.128.0.0/14"]))
    assert (o.max_pods, o.pod_cidr, o.runtime) == (120000, "10.128.0.0/14", "simulated")
    assert UpOptions.from_args(build_parser().parse_args(["up"])).max_pods is None


@pytest.mark.parametrize("bad, message", [("0", "must be at least 1, got 0"),
                                          ("many", "'many' is not a whole number")])
def test_bad_max_pods_says_what_to_fix(bad: str, message: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["up", "--max-pods", bad])
    assert f"argument --max-pods: {message}" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", ["up", "server"])
def test_authentication_flags_reach_the_api_server(cmd: str) -> None:
    def kwargs(*args: str) -> dict[str, object]:
        return Serving.from_args(build_parser().parse_args([cmd, *args])).api_server_kwargs()

    assert kwargs()["anonymous_auth"] is True
    assert kwargs()["service_account_issuer"] == "https://kubernetes.default.svc.cluster.local"
    kw = kwargs("--anonymous-auth=false", "--service-account-issuer", "https://x.example")
    assert kw["anonymous_auth"] is False and kw["service_account_issuer"] == "https://x.example"
    assert kwargs("--anonymous-auth")["anonymous_auth"] is True


def test_bad_anonymous_auth_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["up", "--anonymous-auth=maybe"])
    assert "invalid boolean 'maybe'" in capsys.readouterr().err


def test_ingress_flags_and_default_address() -> None:
    from kubesvc.cli.ingress import default_address

    o = UpOptions.from_args(build_parser().parse_args(["up"]))
    assert (o.ingress, o.ingress_address) == (True, "")  # on by default from the CLI
    o = UpOptions.from_args(build_parser().parse_args(
        ["up", "--no-ingress", "--ingress-address", "127.5.5.5"]))
    assert (o.ingress, o.ingress_address) == (False, "127.5.5.5")
    assert UpOptions(data_dir=o.data_dir).ingress is False  # in-process clusters opt in
    assert default_address("127.100.0.0/24") == "127.100.1.1"  # just past the pool
    assert default_address("127.180.0.0/24") == "127.180.1.1"
