"""A fake Telegram Bot API on 127.0.0.1 speaking the real JSON shapes (getMe, getUpdates with
offset/timeout, sendMessage). Tests push updates and read what the bot sent."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeBotApi:
    def __init__(self, token: str = "123456:TEST-token", bot_id: int = 999, username: str = "ethos_test_bot") -> None:
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.updates: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.offsets: list[int] = []
        self.requests: list[str] = []
        self._next_update = 1
        self._next_message = 5000
        self._cond = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload = fake.route(self.path, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeBotApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._cond.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # --- state ---------------------------------------------------------------------------------

    def push(self, kind: str, message: dict[str, Any]) -> int:
        with self._cond:
            update_id = self._next_update
            self._next_update += 1
            message.setdefault("message_id", 100 + update_id)
            message.setdefault("date", 1_700_000_000)
            self.updates.append({"update_id": update_id, kind: message})
            self._cond.notify_all()
            return update_id

    def wait_sent(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.sent) >= count, timeout=timeout)
            return list(self.sent)

    def wait_offset(self, offset: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: bool(self.offsets) and self.offsets[-1] >= offset, timeout=timeout)

    # --- API ---------------------------------------------------------------------------------

    def route(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = path[len(prefix):]
        self.requests.append(method)
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": self.bot_id, "is_bot": True, "first_name": "Ethos",
                                                 "username": self.username, "can_join_groups": True}}
        if method == "getUpdates":
            offset = int(body.get("offset") or 0)
            timeout = min(float(body.get("timeout") or 0), 0.3)
            with self._cond:
                self.offsets.append(offset)
                self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed
                self._cond.notify_all()
                if not self.updates:
                    self._cond.wait(timeout)
                return 200, {"ok": True, "result": list(self.updates)}
        if method == "sendMessage":
            with self._cond:
                self._next_message += 1
                self.sent.append({"chat_id": str(body.get("chat_id")), "text": body.get("text")})
                self._cond.notify_all()
                return 200, {"ok": True, "result": {"message_id": self._next_message, "date": 1_700_000_001,
                                                     "chat": {"id": body.get("chat_id"), "type": "private"},
                                                     "from": {"id": self.bot_id, "is_bot": True, "first_name": "Ethos"},
                                                     "text": body.get("text")}}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}


def user(uid: int, first: str = "User", username: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": uid, "is_bot": False, "first_name": first}
    if username:
        out["username"] = username
    return out


def private_chat(uid: int) -> dict[str, Any]:
    return {"id": uid, "type": "private", "first_name": "User"}


def group_chat(cid: int = -100123) -> dict[str, Any]:
    return {"id": cid, "type": "supergroup", "title": "Team"}
