"""Attack kit for labs: reproducible attacks on an explicit lab target, as commands a host can run.

Each builder returns an `Attack` (argv, working directory, generated files) and runs nothing;
`attack.run()` runs it here, `attack.run(node.cmd)` inside an emulated host (the shell string from
`attack.command()` goes to the runner). Every builder needs the target address from the caller: an IP
literal, never a name, and never a public address unless `allow_public=True` (the emulated internet
uses 198.18.0.0/15 and the documentation ranges, which count as lab addresses). Randomness (word
lists, port order, source ports, payload choice) comes from `seed`.

- `hydra_ssh`: hydra `-t 4`, fixed users, generated word list -> audit lock/block, NIDS `ssh_guess`
- `hydra_web`: hydra `http-post-form` on the OA/approval `POST /login` (JSON body) -> NIDS
  `web_guess` and sid 1000021, the app's own lock
- `nmap_scan`: nmap `-sS`/`-sT`, ports in order (`-r`) -> NIDS `portscan`
- `hping3_syn_flood`: hping3 `-S` with `-c COUNT` (always bounded) -> NIDS `synflood`
- `scapy_scan`: `python -m ids.attacks scan`, SYN/NULL/XMAS/FIN/UDP probes -> `portscan`/`udpscan`,
  sids 1000031-1000033
- `scapy_web`: `python -m ids.attacks web`, path traversal and SQL injection requests to the
  approval portal -> sids 1000001-1000015

Password guessing must target lab accounts of lab sshd instances only (`ids.labsshd`).
"""

from ids.attacks.packets import PAYLOADS, SCAN_FLAGS, parse_ports, scan_packets, web_packets, web_requests
from ids.attacks.target import AttackError, check_target
from ids.attacks.tools import (
    WEB_PORTS,
    Attack,
    AttackResult,
    Runner,
    hping3_syn_flood,
    hydra_ssh,
    hydra_web,
    nmap_scan,
    scapy_scan,
    scapy_web,
    wordlist,
)

__all__ = [
    "PAYLOADS",
    "SCAN_FLAGS",
    "WEB_PORTS",
    "Attack",
    "AttackError",
    "AttackResult",
    "Runner",
    "check_target",
    "hping3_syn_flood",
    "hydra_ssh",
    "hydra_web",
    "nmap_scan",
    "parse_ports",
    "scan_packets",
    "scapy_scan",
    "scapy_web",
    "web_packets",
    "web_requests",
    "wordlist",
]
