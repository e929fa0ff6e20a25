"""Validation of networking.k8s.io/v1 Ingress and IngressClass, as upstream's
``pkg/apis/networking/validation`` (v1.32) words it. Called through
:mod:`kubesvc.api.validation`'s tables."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api.validation import field as f
from kubesvc.api.validation import formats as fmt
from kubesvc.errors import Cause

PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_WILDCARD_FMT = "\\*\\." + fmt.DNS1123_SUBDOMAIN_FMT
_WILDCARD_RE = re.compile(f"^{_WILDCARD_FMT}$")
_WILDCARD_MSG = ("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
                 "subdomain, which must consist of lower case alphanumeric characters, '-' or "
                 "'.' and end with an alphanumeric character")
# upstream's invalidPathSequences / invalidPathSuffixes for Exact and Prefix paths
_BAD_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_BAD_SUFFIXES = ("/..", "/.")
_DOMAIN_PREFIXED_PATH_MAX = 250


def _map(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _host(path: str, host: str) -> list[Cause]:
    if fmt.parse_ip(host) is not None:
        return [f.invalid(path, host, "must be a DNS name, not an IP address")]
    if "*" in host:
        errs = []
        if len(host) > fmt.DNS1123_SUBDOMAIN_MAX:
            errs.append(fmt.max_len_error(fmt.DNS1123_SUBDOMAIN_MAX))
        if not _WILDCARD_RE.match(host):
            errs.append(fmt.regex_error(_WILDCARD_MSG, _WILDCARD_FMT, "*.example.com"))
        return [f.invalid(path, host, e) for e in errs]
    return [f.invalid(path, host, e) for e in fmt.is_dns1123_subdomain(host)]


def validate_ingress(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    return out + _spec(_map(obj.get("spec")), "spec")


def validate_ingress_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta_update(new, old) + _spec(_map(new.get("spec")), "spec")


def validate_ingress_status_update(new: Mapping[str, Any],
                                   old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    lb = _map(_map(new.get("status")).get("loadBalancer"))
    for i, ing in enumerate(_list(lb.get("ingress"))):
        path = f.index("status.loadBalancer.ingress", i)
        ing = _map(ing)
        ip = ing.get("ip")
        if ip:
            out += fmt.is_valid_ip(f.child(path, "ip"), str(ip))
        host = ing.get("hostname")
        if host:
            out += [f.invalid(f.child(path, "hostname"), host, e)
                    for e in fmt.is_dns1123_subdomain(str(host))]
            if fmt.parse_ip(str(host)) is not None:
                out.append(f.invalid(f.child(path, "hostname"), host, "must be a DNS name, "
                                     "not an IP address"))
    return out


def _spec(spec: Mapping[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    rules = _list(spec.get("rules"))
    default = spec.get("defaultBackend")
    if not rules and not default:
        out.append(f.invalid(path, dict(spec), "either `defaultBackend` or `rules` must be "
                             "specified"))
    if default:
        out += _backend(_map(default), f.child(path, "defaultBackend"))
    for i, rule in enumerate(rules):
        out += _rule(_map(rule), f.index(f.child(path, "rules"), i))
    for i, tls in enumerate(_list(spec.get("tls"))):
        tpath = f.index(f.child(path, "tls"), i)
        tls = _map(tls)
        for j, host in enumerate(_list(tls.get("hosts"))):
            out += _host(f.index(f.child(tpath, "hosts"), j), str(host))
        secret = tls.get("secretName")
        if secret:
            out += fmt.validate_dns1123_subdomain(f.child(tpath, "secretName"), str(secret))
    cls = spec.get("ingressClassName")
    if cls is not None:
        out += fmt.validate_dns1123_subdomain(f.child(path, "ingressClassName"), str(cls))
    return out


def _rule(rule: Mapping[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    host = rule.get("host")
    if host:
        out += _host(f.child(path, "host"), str(host))
    http = rule.get("http")
    if http is None:
        return out
    hpath = f.child(path, "http", "paths")
    paths = _list(_map(http).get("paths"))
    if not paths:
        return [*out, f.required(hpath)]
    for i, p in enumerate(paths):
        out += _http_path(_map(p), f.index(hpath, i))
    return out


def _http_path(p: Mapping[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    value = p.get("path", "")
    ptype = p.get("pathType")
    ppath = f.child(path, "path")
    if not ptype:
        out.append(f.required(f.child(path, "pathType"), "pathType must be specified"))
    elif ptype not in PATH_TYPES:
        out.append(f.not_supported(f.child(path, "pathType"), ptype, PATH_TYPES))
    if ptype in ("Exact", "Prefix"):
        if not str(value).startswith("/"):
            out.append(f.invalid(ppath, value, "must be an absolute path"))
        for seq in _BAD_SEQUENCES:
            if seq in str(value):
                out.append(f.invalid(ppath, value, f"must not contain '{seq}'"))
        for suffix in _BAD_SUFFIXES:
            if str(value).endswith(suffix):
                out.append(f.invalid(ppath, value, f"cannot end with '{suffix}'"))
    elif ptype == "ImplementationSpecific" and value and not str(value).startswith("/"):
        out.append(f.invalid(ppath, value, "must be an absolute path"))
    return out + _backend(_map(p.get("backend")), f.child(path, "backend"))


def _backend(b: Mapping[str, Any], path: str) -> list[Cause]:
    svc, res = b.get("service"), b.get("resource")
    if svc and res:
        return [f.invalid(path, dict(b), "cannot set both service and resource backends")]
    if res:
        r = _map(res)
        out = []
        if not r.get("kind"):
            out.append(f.required(f.child(path, "resource", "kind")))
        if not r.get("name"):
            out.append(f.required(f.child(path, "resource", "name")))
        return out
    if not svc:
        return [f.invalid(path, dict(b), "one backend must be specified")]
    s = _map(svc)
    out = []
    name = s.get("name") or ""
    if not name:
        out.append(f.required(f.child(path, "service", "name")))
    else:
        out += [f.invalid(f.child(path, "service", "name"), name, e)
                for e in fmt.is_dns1035_label(str(name))]
    port = _map(s.get("port"))
    ppath = f.child(path, "service", "port")
    pname, pnum = port.get("name"), port.get("number")
    if pname and pnum:
        out.append(f.invalid(ppath, dict(port), "cannot set both port name & port number"))
    elif pname:
        out += [f.invalid(f.child(ppath, "name"), pname, e)
                for e in fmt.is_valid_port_name(str(pname))]
    elif pnum:
        out += [f.invalid(f.child(ppath, "number"), pnum, e)
                for e in fmt.is_valid_port_num(int(pnum))]
    else:
        out.append(f.required(ppath, "port name or number is required"))
    return out


def validate_ingress_class(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, False, meta.name_is_dns_subdomain)
    spec = _map(obj.get("spec"))
    ctrl = spec.get("controller") or ""
    path = "spec.controller"
    if not ctrl:
        out.append(f.required(path))
    else:
        if len(ctrl) > _DOMAIN_PREFIXED_PATH_MAX:
            out.append(f.too_long(path, _DOMAIN_PREFIXED_PATH_MAX))
        domain, slash, rest = str(ctrl).partition("/")
        if not slash or not rest:
            out.append(f.invalid(path, ctrl, "must be a domain-prefixed path (such as "
                                 "\"acme.io/foo\")"))
        else:
            out += [f.invalid(path, ctrl, e) for e in fmt.is_dns1123_subdomain(domain)]
    params = spec.get("parameters")
    if params:
        p = _map(params)
        ppath = "spec.parameters"
        if not p.get("kind"):
            out.append(f.required(f.child(ppath, "kind")))
        if not p.get("name"):
            out.append(f.required(f.child(ppath, "name")))
        scope = p.get("scope", "Cluster")
        if scope not in ("Cluster", "Namespace"):
            out.append(f.not_supported(f.child(ppath, "scope"), scope, ("Cluster", "Namespace")))
        if scope == "Namespace" and not p.get("namespace"):
            out.append(f.required(f.child(ppath, "namespace"),
                                  "`parameters.scope` is set to 'Namespace'"))
        if scope == "Cluster" and p.get("namespace"):
            out.append(f.forbidden(f.child(ppath, "namespace"),
                                   "`parameters.scope` is set to 'Cluster'"))
    return out


def validate_ingress_class_update(new: Mapping[str, Any],
                                  old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    out += fmt.validate_immutable("spec.controller", _map(new.get("spec")).get("controller"),
                                  _map(old.get("spec")).get("controller"))
    return out + [c for c in validate_ingress_class(new) if not c.field.startswith("metadata")]
