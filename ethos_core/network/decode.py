"""Bounded content decoding: decompress a response without ever holding more than the cap.

Invariant: :class:`BoundedDecoder` never materialises more than ``limit + 1`` decoded bytes in
one step and raises :class:`DecodedTooLarge` as soon as the running total exceeds ``limit``,
whatever the compression ratio (gzip, deflate, brotli). Only identity, gzip, deflate and br (one
layer) are accepted; anything else raises :class:`UnsupportedEncoding` — an unbounded or unknown
decoder is never run.

Not covered: content types (a decoded body is bytes; interpretation is the caller's).
"""

from __future__ import annotations

import zlib
from typing import Any

try:  # brotli is optional: without it "br" is neither advertised nor accepted
    import brotli as _brotli  # type: ignore[import-untyped]

    _brotli.Decompressor().process(b"", output_buffer_limit=1)
    HAVE_BROTLI = True
except Exception:  # noqa: BLE001 - any failure means no bounded brotli
    _brotli = None
    HAVE_BROTLI = False

ACCEPT_ENCODING = "gzip, deflate, br" if HAVE_BROTLI else "gzip, deflate"
_STEP = 64 * 1024


class DecodedTooLarge(ValueError):
    pass


class UnsupportedEncoding(ValueError):
    pass


class BoundedDecoder:
    """Feed raw chunks with :meth:`feed`, collect output, call :meth:`flush` at the end."""

    def __init__(self, content_encoding: str, limit: int):
        coding = ",".join(part.strip().lower() for part in content_encoding.split(",") if part.strip())
        if coding in ("", "identity"):
            self.kind = "identity"
        elif coding in ("gzip", "x-gzip"):
            self.kind = "gzip"
        elif coding == "deflate":
            self.kind = "deflate"
        elif coding == "br" and HAVE_BROTLI:
            self.kind = "br"
        else:
            raise UnsupportedEncoding(f"content encoding {content_encoding!r} is not supported")
        self.limit = limit
        self.total = 0
        self._zlib: Any = None
        self._first = True
        if self.kind == "gzip":
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.kind == "br":
            assert _brotli is not None
            self._br = _brotli.Decompressor()

    def _count(self, data: bytes) -> bytes:
        self.total += len(data)
        if self.total > self.limit:
            raise DecodedTooLarge(f"decoded body exceeds {self.limit} bytes")
        return data

    def feed(self, chunk: bytes) -> bytes:
        if self.kind == "identity":
            return self._count(chunk)
        if self.kind == "br":
            return self._feed_brotli(chunk)
        if self._zlib is None:  # deflate: zlib-wrapped per the RFC, raw deflate in practice
            zlib_header = len(chunk) >= 2 and (chunk[0] & 0x0F) == 8 and ((chunk[0] << 8) | chunk[1]) % 31 == 0
            wbits = zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
            self._zlib = zlib.decompressobj(wbits)
        return self._feed_zlib(chunk)

    def _feed_zlib(self, chunk: bytes) -> bytes:
        out = []
        data = chunk
        while True:
            room = min(_STEP, self.limit - self.total + 1)
            try:
                piece = self._zlib.decompress(data, room)
            except zlib.error as exc:
                raise UnsupportedEncoding(f"corrupt {self.kind} body: {exc}") from None
            out.append(self._count(piece))
            data = self._zlib.unconsumed_tail
            if not data and (len(piece) < room or self._zlib.eof):
                break
        return b"".join(out)

    def _feed_brotli(self, chunk: bytes) -> bytes:
        assert _brotli is not None
        out = []
        data = chunk
        while True:
            try:
                piece = self._br.process(data, output_buffer_limit=min(_STEP, self.limit - self.total + 1))
            except _brotli.error as exc:
                raise UnsupportedEncoding(f"corrupt br body: {exc}") from None
            out.append(self._count(piece))
            data = b""
            # can_accept_more_data() is not "output drained": keep pulling until nothing comes.
            if not piece or self._br.is_finished():
                break
        return b"".join(out)

    def flush(self) -> bytes:
        """Drain output still held by the decompressor (bounded like :meth:`feed`)."""
        if self.kind in ("gzip", "deflate") and self._zlib is not None:
            return self._feed_zlib(b"")
        if self.kind == "br":
            return self._feed_brotli(b"")
        return b""
