"""Lab sshd instances with lab-only accounts, and the enforcement the login audit drives on them.

A lab sshd is Debian's OpenSSH sshd in a private mount namespace whose /etc/passwd, /etc/shadow and
/etc/group are generated lab files: the machine's real accounts do not exist for it. Password
guessing in labs targets these accounts only. `LabSshdEnforcer` is an `ids.audit` hook: account locks
become `!` in the lab shadow, source blocks become `DenyUsers *@ADDR` plus a checked reload.
See README "Login audit".
"""

from ids.labsshd.accounts import LabAccount, LabSshdError, ShadowFile, hash_password
from ids.labsshd.config import Layout, render_sshd_config
from ids.labsshd.daemon import LabSshd, key_login, password_login
from ids.labsshd.enforce import Applied, LabSshdEnforcer

__all__ = [
    "Applied",
    "LabAccount",
    "LabSshd",
    "LabSshdEnforcer",
    "LabSshdError",
    "Layout",
    "ShadowFile",
    "hash_password",
    "key_login",
    "password_login",
    "render_sshd_config",
]
