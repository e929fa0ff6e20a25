#!/usr/bin/env bash
# Installs the Debian packages that e2e tests and benchmarks use, when missing and when root.
set -euo pipefail
need=()
command -v dig >/dev/null || need+=(dnsutils)
command -v nft >/dev/null || need+=(nftables)
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
command -v haproxy >/dev/null || need+=(haproxy)
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v unbound >/dev/null || need+=(unbound)
command -v wrk >/dev/null || need+=(wrk)
command -v ip >/dev/null || need+=(iproute2)
command -v curl >/dev/null || need+=(curl)
command -v chromium >/dev/null || need+=(chromium)  # the service map UI tests (Playwright)
command -v busybox >/dev/null || need+=(busybox)  # the busybox/alpine images' shell and applets
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "system-deps: not root; missing ${need[*]} (tests that need them will skip)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# unbound's package enables a system service we do not want answering on :53.
systemctl disable --now unbound >/dev/null 2>&1 || true
