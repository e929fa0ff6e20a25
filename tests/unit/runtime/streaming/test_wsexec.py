"""The WebSocket channel framing of exec/attach and the Status the error channel carries
(kubelet's remotecommand): pure functions."""

from __future__ import annotations

import json

from kubesvc.runtime.streaming import wsexec


def test_frame_and_parse_round_trip() -> None:
    msg = wsexec.frame(wsexec.STDOUT, b"hello")
    assert msg == b"\x01hello"
    assert wsexec.parse(msg) == (1, b"hello")
    # text messages (some clients send stdin as text) carry the channel as the first char
    assert wsexec.parse("\x00abc") == (0, b"abc")
    assert wsexec.parse(b"") is None
    assert wsexec.parse(b"\xff\x00") == (wsexec.CLOSE, b"\x00")


def test_resize_message() -> None:
    assert wsexec.parse_resize(b'{"Width":120,"Height":40}') == (120, 40)
    assert wsexec.parse_resize(b'{"Width":0,"Height":40}') is None
    assert wsexec.parse_resize(b"not json") is None
    assert wsexec.parse_resize(b"[1, 2]") is None


def test_exit_status_is_what_kubectl_reads_the_code_from() -> None:
    st = wsexec.exit_status(3, ["sh", "-c", "exit 3"])
    assert st["status"] == "Failure"
    assert st["reason"] == "NonZeroExitCode"
    assert st["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert st["message"] == ("command terminated with non-zero exit code: error executing "
                             "command [sh -c exit 3], exit code 3")


def test_error_payload_per_protocol_version() -> None:
    ok = wsexec.success_status()
    fail = wsexec.exit_status(2, ["false"])
    for v in (wsexec.V5, wsexec.V4):
        assert json.loads(wsexec.error_payload(v, ok) or b"") == {"metadata": {},
                                                                 "status": "Success"}
        assert json.loads(wsexec.error_payload(v, fail) or b"")["reason"] == "NonZeroExitCode"
    for v in (wsexec.V3, wsexec.V2, wsexec.V1):
        assert wsexec.error_payload(v, ok) is None  # nothing sent on success
        assert wsexec.error_payload(v, fail) == fail["message"].encode()


def test_internal_error_status() -> None:
    st = wsexec.internal_error_status('exec: "x": executable file not found in $PATH')
    assert st["reason"] == "InternalError" and st["code"] == 500
    assert st["message"].startswith("Internal error occurred: exec:")


def test_protocols_in_preference_order() -> None:
    assert wsexec.PROTOCOLS[:2] == ("v5.channel.k8s.io", "v4.channel.k8s.io")
