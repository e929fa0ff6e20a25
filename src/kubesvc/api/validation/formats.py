"""String formats and IP/CIDR checks, worded as apimachinery ``pkg/util/validation``.

``is_*`` functions return upstream's message lists (``IsDNS1123Label``, ``IsQualifiedName``,
``IsValidPortName``...); ``validate_*``/``is_valid_ip``-style functions return
:class:`kubesvc.errors.Cause` lists for a field path. Re-exported by
:mod:`kubesvc.api.meta`, which is where callers should import them from. Pure code.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from kubesvc.api.validation import field as f
from kubesvc.errors import Cause

# --- string formats (apimachinery pkg/util/validation) ---------------------------------

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"
CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
PERCENT_FMT = "[0-9]+%"
HTTP_HEADER_NAME_FMT = "[-A-Za-z0-9]+"

_DNS1123_LABEL_RE = re.compile(f"^{DNS1123_LABEL_FMT}$")
_DNS1123_SUBDOMAIN_RE = re.compile(f"^{DNS1123_SUBDOMAIN_FMT}$")
_DNS1035_LABEL_RE = re.compile(f"^{DNS1035_LABEL_FMT}$")
_QUALIFIED_NAME_RE = re.compile(f"^{QUALIFIED_NAME_FMT}$")
_LABEL_VALUE_RE = re.compile(f"^{LABEL_VALUE_FMT}$")
_CONFIG_MAP_KEY_RE = re.compile(f"^{CONFIG_MAP_KEY_FMT}$")
_PERCENT_RE = re.compile(f"^{PERCENT_FMT}$")
_HTTP_HEADER_NAME_RE = re.compile(f"^{HTTP_HEADER_NAME_FMT}$")
_PORT_NAME_CHARSET_RE = re.compile("^[-a-z0-9]+$")
_PORT_NAME_LETTER_RE = re.compile("[a-z]")

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
DNS1035_LABEL_MAX = 63
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
FIELD_IMMUTABLE = "field is immutable"
IS_NEGATIVE = "must be greater than or equal to 0"

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character"
)
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character"
)


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery ``RegexError``: ``msg (e.g. 'a' or 'b', regex used for validation is
    'fmt')`` — note the ``', '`` after the last example, as upstream prints it."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    ex = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {ex}regex used for validation is '{fmt}')"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def _memoized(check: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """Cache a string check's messages (names and label keys/values repeat across writes);
    each call still gets a list of its own."""

    @functools.lru_cache(maxsize=1 << 14)
    def cached(value: str) -> tuple[str, ...]:
        return tuple(check(value))

    @functools.wraps(check)
    def wrapper(value: str) -> list[str]:
        return list(cached(value))

    return wrapper


@_memoized
def is_dns1123_label(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _DNS1123_LABEL_RE.match(value):
        if _DNS1123_SUBDOMAIN_RE.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


@_memoized
def is_dns1123_subdomain(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > DNS1035_LABEL_MAX:
        errs.append(max_len_error(DNS1035_LABEL_MAX))
    if not _DNS1035_LABEL_RE.match(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


@_memoized
def is_qualified_name(value: str) -> list[str]:
    """Label keys, annotation keys, finalizers, appProtocol: ``[prefix/]name``."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(_QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX:
        errs.append("name part " + max_len_error(QUALIFIED_NAME_MAX))
    if not _QUALIFIED_NAME_RE.match(name):
        errs.append(
            "name part "
            + regex_error(_QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


@_memoized
def is_valid_label_value(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > LABEL_VALUE_MAX:
        errs.append(max_len_error(LABEL_VALUE_MAX))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    """IANA_SVC_NAME (RFC 6335): named targetPorts and container port names."""
    errs: list[str] = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARSET_RE.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER_RE.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_config_map_key(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _CONFIG_MAP_KEY_RE.match(value):
        errs.append(
            regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                CONFIG_MAP_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_valid_percent(value: str) -> list[str]:
    if _PERCENT_RE.match(value):
        return []
    return [
        regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'",
            PERCENT_FMT,
            "1%",
            "93%",
        )
    ]


def is_http_header_name(value: str) -> list[str]:
    if _HTTP_HEADER_NAME_RE.match(value):
        return []
    return [
        regex_error(
            "a valid HTTP header must consist of alphanumeric characters or '-'",
            HTTP_HEADER_NAME_FMT,
            "X-Header-Name",
        )
    ]


# --- IP / CIDR (k8s.io/utils/net "sloppy" parsing: leading zeros allowed in IPv4) -------


@functools.lru_cache(maxsize=1 << 16)  # addresses repeat across writes; results immutable
def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``netutils.ParseIPSloppy``: accepts ``010.1.1.1`` (as decimal) like Go's old parser."""
    if not value or "%" in value:
        return None
    if ":" not in value:
        parts = value.split(".")
        if len(parts) != 4 or not all(p.isdigit() and 0 < len(p) <= 3 for p in parts):
            return None
        nums = [int(p) for p in parts]
        if any(n > 255 for n in nums):
            return None
        return ipaddress.IPv4Address(".".join(str(n) for n in nums))
    try:
        return ipaddress.IPv6Address(value)
    except ValueError:
        return None


def parse_cidr(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """``netutils.ParseCIDRSloppy``; host bits may be set (``10.0.0.1/8`` is valid)."""
    addr, sep, bits = value.partition("/")
    ip = parse_ip(addr)
    if ip is None or not sep or not bits.isdigit() or (len(bits) > 1 and bits[0] == "0"):
        return None
    n = int(bits)
    if n > ip.max_prefixlen:
        return None
    return ipaddress.ip_network(f"{ip}/{n}", strict=False)


def is_ipv6(value: str) -> bool:
    ip = parse_ip(value)
    return ip is not None and ip.version == 6 and ip.ipv4_mapped is None


def is_valid_ip(path: str, value: str) -> list[Cause]:
    if parse_ip(value) is None:
        return [
            f.invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
        ]
    return []


def is_valid_ipv4(path: str, value: str) -> list[Cause]:
    ip = parse_ip(value)
    if ip is None or not (ip.version == 4 or getattr(ip, "ipv4_mapped", None) is not None):
        return [f.invalid(path, value, "must be a valid IPv4 address")]
    return []


def is_valid_ipv6(path: str, value: str) -> list[Cause]:
    ip = parse_ip(value)
    if ip is None or ip.version == 4 or getattr(ip, "ipv4_mapped", None) is not None:
        return [f.invalid(path, value, "must be a valid IPv6 address")]
    return []


def is_valid_cidr(path: str, value: str) -> list[Cause]:
    if parse_cidr(value) is None:
        return [
            f.invalid(
                path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
            )
        ]
    return []


class AddressPolicy:
    """Cluster-wide address rules that depend on the network mode.

    Upstream forbids loopback addresses in Endpoints, EndpointSlices and externalIPs. In
    kubesvc's host network mode every pod, Service and LoadBalancer address lives in
    127.0.0.0/8 by design, so ``kubesvc up`` (host mode) sets ``allow_loopback`` once at
    start; netns mode and the default keep upstream's rule."""

    allow_loopback: bool = False


ADDRESS_POLICY = AddressPolicy()


_LINK_LOCAL_MULTICAST_V4 = ipaddress.ip_network("224.0.0.0/24")


def validate_non_special_ip(path: str, value: str) -> list[Cause]:
    """Endpoints, EndpointSlices and externalIPs may not be unspecified, loopback (unless
    :data:`ADDRESS_POLICY` allows it) or link-local (upstream ``ValidateNonSpecialIP``)."""
    ip = parse_ip(value)
    if ip is None:
        return [f.invalid(path, value, "must be a valid IP address")]
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    out: list[Cause] = []
    if ip.is_unspecified:
        out.append(f.invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback and not ADDRESS_POLICY.allow_loopback:
        out.append(
            f.invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)")
        )
    if ip.is_link_local and not ip.is_multicast:
        out.append(
            f.invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")
        )
    link_local_mc = (ip.version == 4 and ip in _LINK_LOCAL_MULTICAST_V4) or (
        ip.version == 6 and ip.packed[0] == 0xFF and (ip.packed[1] & 0x0F) == 0x02
    )
    if link_local_mc:
        out.append(
            f.invalid(
                path,
                value,
                "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
            )
        )
    return out


# --- Cause helpers over the string validators ------------------------------------------


def validate_dns1123_label(path: str, value: str) -> list[Cause]:
    return [f.invalid(path, value, m) for m in is_dns1123_label(value)]


def validate_dns1123_subdomain(path: str, value: str) -> list[Cause]:
    return [f.invalid(path, value, m) for m in is_dns1123_subdomain(value)]


def validate_qualified_name(path: str, value: str) -> list[Cause]:
    return [f.invalid(path, value, m) for m in is_qualified_name(value)]


def validate_labels(path: str, labels: Any) -> list[Cause]:
    """``ValidateLabels``: every key a qualified name, every value a label value."""
    out: list[Cause] = []
    if not isinstance(labels, Mapping):
        return out
    for k, v in labels.items():
        out.extend(f.invalid(path, k, m) for m in is_qualified_name(str(k)))
        val = v if isinstance(v, str) else str(v)
        out.extend(f.invalid(path, val, m) for m in is_valid_label_value(val))
    return out


def validate_annotations(path: str, annotations: Any) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(annotations, Mapping):
        return out
    total = 0
    for k, v in annotations.items():
        out.extend(f.invalid(path, k, m) for m in is_qualified_name(str(k).lower()))
        total += len(str(k).encode()) + len(str(v).encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        out.append(f.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return out


def validate_nonnegative(path: str, value: int) -> list[Cause]:
    return [f.invalid(path, value, IS_NEGATIVE)] if value < 0 else []


def validate_immutable(path: str, new: Any, old: Any) -> list[Cause]:
    return [] if new == old else [f.invalid(path, new, FIELD_IMMUTABLE)]
