#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: apt packages (only the missing ones), then the venv.
# Run as root (the emulator needs it); without root the apt step is skipped with a note.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every Debian package the platform uses. Keep in sync with docs/development.md "What gets installed".
APT_PACKAGES=(
  mininet          # emulator (Python 2.3.0 for /usr/bin/python3, mnexec)
  iproute2         # ip, tc (HTB shaping), nexthop objects
  iputils-ping     # reachability and heal-time probes
  iperf3           # link-rate spot checks
  tcpdump ethtool  # capture and offload control
  bridge-utils     # brctl, used by Mininet's LinuxBridge (access-layer VLAN bridges)
  frr              # OSPF routing on the core ring and site routers (ring healing)
  nftables         # zone policy on the firewalls
  psmisc procps util-linux  # killall/pgrep/unshare used by clean-up and capability checks
  python3-venv python3-yaml
  snmpd snmp       # SNMP agents inside emulated devices (own config per device); snmpset tunes them
  openssh-server openssh-client  # device CLI: sshd per router/firewall namespace, ssh-keygen
  victoria-metrics # metrics store (govnet tsdb up; Prometheus/PromQL API, influx line protocol)
  keepalived conntrack conntrackd  # firewall pair: VRRP health, conntrack tools, state sync
  nmap hping3 hydra  # lab attack kit (scans, floods, password guessing against lab sshd only)
  fail2ban aide    # anchors for bench/audit.py and bench/hids.py (their system services stay off)
  libpcre2-8-0     # NIDS pcre patterns RE2 cannot run (backreferences...), with Suricata's match limits
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run 'make setup' as root to install them)" >&2
  else
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # govnet starts its own frr/snmpd/victoria-metrics per lab; keep the packages' system services from
    # starting on the host during the install (a temporary policy-rc.d, removed again right after).
    own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || { [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d; exit 1; }
    [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
  fi
fi
# Debian's frr service must not run in the root namespace: govnet starts its own daemons per router.
if [ "$(id -u)" -eq 0 ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active -q frr 2>/dev/null; then
  echo "setup: note: the system frr service is running; govnet does not use it"
fi

if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
stamp=.venv/.govnet-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  touch "$stamp"
fi
.venv/bin/python -c "import mininet.net" 2>/dev/null || echo "setup: note: Mininet does not import in .venv (is the 'mininet' package installed?)" >&2
echo "setup: ready (.venv/bin/govnet)"
