#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check a QEMU screendump against fbdraw's test image.

    fbimage.py check FILE.png WIDTH HEIGHT

decodes FILE.png (a QMP screendump, format png) with the standard library
only, recomputes the picture guest-drivers/tools/fbdraw.c draws, and exits
0 iff every pixel matches; otherwise it says how many pixels differ and
where the first ones are, and exits 1 (2 for an unreadable file).  The
image formula here must stay the same as image_pixel()/expected_pixel()
in fbdraw.c.
"""
import struct
import sys
import zlib

BAR_COLOURS = (0xffffff, 0xffff00, 0x00ffff, 0x00ff00,
               0xff00ff, 0xff0000, 0x0000ff, 0x000000)
BLOCK = 0x808080            # fbdraw memsets the block with byte 0x80
SHOW = 5                    # mismatches listed


def expected_pixel(x, y, w, h):
    """0xRRGGBB of the test image at (x, y); as fbdraw.c computes it."""
    if 3 * w // 8 <= x < 3 * w // 8 + w // 4 and \
            3 * h // 8 <= y < 3 * h // 8 + h // 4:
        return BLOCK
    if x == 0 or y == 0 or x == w - 1 or y == h - 1:
        return 0xffffff
    half = h // 2
    if y < half:
        return BAR_COLOURS[x * 8 // w]
    r = x * 255 // (w - 1) if w > 1 else 0
    g = (y - half) * 255 // (h - half - 1) if h - half > 1 else 0
    return r << 16 | g << 8 | (255 - r)


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind, line, prev, bpp):
    """Undo one PNG row filter (PNG spec, section 9) in place."""
    n = len(line)
    if kind == 1:
        for i in range(bpp, n):
            line[i] = (line[i] + line[i - bpp]) & 0xff
    elif kind == 2:
        for i in range(n):
            line[i] = (line[i] + prev[i]) & 0xff
    elif kind == 3:
        for i in range(n):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
    elif kind == 4:
        for i in range(n):
            left = line[i - bpp] if i >= bpp else 0
            upleft = prev[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + _paeth(left, prev[i], upleft)) & 0xff
    elif kind != 0:
        raise ValueError("unknown PNG filter type %d" % kind)


def read_png(path):
    """(width, height, rows of 0xRRGGBB) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, ihdr = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if ihdr is None:
        raise ValueError("no IHDR chunk")
    width, height, depth, colour, _, _, interlace = ihdr
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError("unsupported PNG: depth %d, colour type %d, "
                         "interlace %d (want 8-bit RGB or RGBA, not "
                         "interlaced)" % (depth, colour, interlace))
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        raise ValueError("image data is %d bytes, wanted %d"
                         % (len(raw), height * (stride + 1)))
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = bytearray(raw[start + 1:start + 1 + stride])
        _unfilter(raw[start], line, prev, bpp)
        rows.append([line[i] << 16 | line[i + 1] << 8 | line[i + 2]
                     for i in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def check(path, w, h):
    """Print the verdict on PATH; return the exit status."""
    try:
        width, height, rows = read_png(path)
    except (OSError, ValueError, zlib.error) as e:
        print("fbimage: %s: %s" % (path, e))
        return 2
    if (width, height) != (w, h):
        print("fbimage: %s is %dx%d, wanted %dx%d"
              % (path, width, height, w, h))
        return 1
    bad = [(x, y, got, want)
           for y, row in enumerate(rows)
           for x, got in enumerate(row)
           for want in (expected_pixel(x, y, w, h),) if got != want]
    if not bad:
        print("fbimage: %s matches the %dx%d test image" % (path, w, h))
        return 0
    print("fbimage: %s: %d of %d pixels differ from the %dx%d test image"
          % (path, len(bad), w * h, w, h))
    for x, y, got, want in bad[:SHOW]:
        print("    (%d,%d): #%06x, wanted #%06x" % (x, y, got, want))
    return 1


def main(argv):
    if len(argv) != 5 or argv[1] != "check" or \
            not (argv[3].isdigit() and argv[4].isdigit()):
        sys.stderr.write("usage: fbimage.py check FILE.png WIDTH HEIGHT\n")
        return 2
    return check(argv[2], int(argv[3]), int(argv[4]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
