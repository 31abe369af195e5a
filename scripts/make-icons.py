#!/usr/bin/env python3
"""Draws the app icons (a white notebook on the brand blue) with the standard library only."""
import struct, zlib, pathlib

def png(size, pad):
    blue, white, dark = (29, 112, 184), (255, 255, 255), (11, 12, 12)
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            c = blue
            l, r, t, b = size * pad, size * (1 - pad), size * (pad * 0.8), size * (1 - pad * 0.8)
            if l <= x < r and t <= y < b:
                c = white
                if l <= x < l + size * 0.06:
                    c = dark  # spine
                elif int((y - t) / (size * 0.09)) % 2 == 1 and abs((y - t) % (size * 0.09)) < size * 0.012 and x > l + size * 0.12 and x < r - size * 0.06:
                    c = (160, 170, 175)  # ruled lines
            row += bytes(c)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")

out = pathlib.Path(__file__).resolve().parent.parent / "public" / "icons"
out.mkdir(parents=True, exist_ok=True)
(out / "icon-192.png").write_bytes(png(192, 0.22))
(out / "icon-512.png").write_bytes(png(512, 0.22))
(out / "icon-maskable-512.png").write_bytes(png(512, 0.3))
