"""Network IDS: fast decoding, a Suricata-subset rule engine, built-in detectors, pcap and live capture.

    from ids.nids import load_rules, default_rules_path, scan_pcap
    result = scan_pcap("capture.pcap", load_rules([default_rules_path()]))
    for alert in result.alerts: ...          # EVE records (govnet.events.alert)

Live: `ids.nids.sensor.Sensor` (or `python -m ids.nids.sensor --help`).
"""

from ids.nids.decode import Packet, decode, flow_id
from ids.nids.detectors import DETECTORS, DetectorConfig
from ids.nids.engine import BlockRequest, Engine, Stats
from ids.nids.pcap import PcapError, PcapWriter, read_pcap
from ids.nids.pcre import Limits, Regex
from ids.nids.rules import Rule, RuleSet, default_rules_path, load_rules, parse_rule, parse_rules
from ids.nids.scan import ScanResult, format_table, scan_pcap

__all__ = [
    "DETECTORS",
    "BlockRequest",
    "DetectorConfig",
    "Engine",
    "Limits",
    "Packet",
    "PcapError",
    "PcapWriter",
    "Regex",
    "Rule",
    "RuleSet",
    "ScanResult",
    "Stats",
    "decode",
    "default_rules_path",
    "flow_id",
    "format_table",
    "load_rules",
    "parse_rule",
    "parse_rules",
    "read_pcap",
    "scan_pcap",
]
