"""A tiny SMTP sink (stdlib socketserver) that keeps every message, and the sender the services use."""

from __future__ import annotations

import smtplib
import socketserver
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default


@dataclass(frozen=True)
class Mail:
    """One delivered message."""

    sender: str
    recipients: tuple[str, ...]
    subject: str
    body: str


class SmtpSink(socketserver.ThreadingTCPServer):
    """Accepts any mail on (host, port) and appends it to `messages`; port 0 picks a free port."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _SmtpHandler)
        self.messages: list[Mail] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    def start(self) -> SmtpSink:
        threading.Thread(target=self.serve_forever, args=(0.05,), name="smtp-sink", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Mail]:
        """The messages once at least `count` have arrived (or whatever is there after `timeout`)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: SmtpSink

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._say("220 govnet-sink ESMTP")
        sender = ""
        rcpts: list[str] = []
        while True:
            raw = self.rfile.readline(65536)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb in ("HELO", "EHLO"):
                self._say("250 govnet-sink")
            elif verb == "MAIL":
                sender, rcpts = line.partition(":")[2].strip().strip("<>"), []
                self._say("250 OK")
            elif verb == "RCPT":
                rcpts.append(line.partition(":")[2].strip().strip("<>"))
                self._say("250 OK")
            elif verb == "DATA":
                if not rcpts:
                    self._say("503 need RCPT first")
                    continue
                self._say("354 end with <CRLF>.<CRLF>")
                self._store(sender, rcpts, self._data())
                self._say("250 OK queued")
            elif verb == "RSET":
                sender, rcpts = "", []
                self._say("250 OK")
            elif verb == "NOOP":
                self._say("250 OK")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("502 command not implemented")

    def _data(self) -> bytes:
        lines: list[bytes] = []
        while True:
            raw = self.rfile.readline(1 << 20)
            if not raw or raw.rstrip(b"\r\n") == b".":
                return b"".join(lines)
            line = raw.rstrip(b"\r\n") + b"\n"
            lines.append(line[1:] if line.startswith(b"..") else line)

    def _store(self, sender: str, rcpts: list[str], data: bytes) -> None:
        msg = BytesParser(policy=default).parsebytes(data)
        body = msg.get_body(("plain",)) if isinstance(msg, EmailMessage) else None
        mail = Mail(sender, tuple(rcpts), str(msg["Subject"] or ""), body.get_content() if body else "")
        with self.server.arrived:
            self.server.messages.append(mail)
            self.server.arrived.notify_all()


def send_mail(host: str, port: int, sender: str, to: str, subject: str, body: str) -> None:
    """Send one plain-text message (raises OSError / smtplib.SMTPException on failure)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(body)
    with smtplib.SMTP(host, port, timeout=5) as smtp:
        smtp.send_message(msg)


def main(argv: list[str] | None = None) -> int:
    """`python -m apps.smtp --port 2525`: run the sink and print one line per delivered message."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m apps.smtp", description="a tiny SMTP sink")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2525)
    a = p.parse_args(argv)
    sink = SmtpSink(a.bind, a.port).start()
    print(f"smtp sink: listening on {a.bind}:{sink.server_address[1]}", flush=True)
    seen = 0
    try:
        while True:
            for m in sink.wait_for(seen + 1, timeout=1.0)[seen:]:
                print(f"mail from {m.sender} to {', '.join(m.recipients)}: {m.subject}", flush=True)
                seen += 1
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
