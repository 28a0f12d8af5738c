"""Schemathesis hooks for the fuzz run of the thumbnail API (src/openapi-conformance.e2e.ts).

The document says what the API takes; these say how to make such values where JSON Schema
cannot: images for the upload's `file` part (its encoding lists the accepted image types), list
cursors (format `page-cursor`, base64url of "<13-digit ms>:<job id>", which the API hands out as
`page.next_cursor`), and an Idempotency-Key unique to each upload, as the API asks of clients.
"""

import base64
import os
import random
import re
import struct
import uuid
import zlib
from pathlib import Path

from hypothesis import strategies as st

import schemathesis

# Channels per pixel of the PNG colour types drawn: grey, RGB, grey + alpha, RGBA.
PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, color_type: int, seed: int) -> bytes:
    """A valid 8-bit PNG of random pixels, each row with filter type 0."""
    stride = width * PNG_CHANNELS[color_type]
    pixels = random.Random(seed).randbytes(stride * height)
    rows = b"".join(b"\x00" + pixels[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")


pngs = st.builds(
    png,
    width=st.integers(1, 64),
    height=st.integers(1, 64),
    color_type=st.sampled_from(sorted(PNG_CHANNELS)),
    seed=st.integers(0, 2**32 - 1),
)


def fixture_images() -> dict[str, list[bytes]]:
    """Images the test wrote (one folder per media type, `image/jpeg` -> `jpeg/`), by media type."""
    root = Path(os.environ["THUMBNAIL_FUZZ_IMAGES"])
    return {f"image/{folder.name}": [file.read_bytes() for file in sorted(folder.iterdir())] for folder in sorted(root.iterdir())}


for media_type, images in fixture_images().items():
    fixtures = st.sampled_from(images)
    schemathesis.openapi.media_type(media_type, st.one_of(pngs, fixtures) if media_type == "image/png" else fixtures)


def cursor(created_at_ms: int, job_id: uuid.UUID) -> str:
    position = f"{created_at_ms:013d}:{job_id}".encode()
    return base64.urlsafe_b64encode(position).rstrip(b"=").decode()


schemathesis.openapi.format(
    "page-cursor",
    st.builds(cursor, created_at_ms=st.integers(0, 10**13 - 1), job_id=st.uuids(version=4)),
)


# The header the document allows (IDEMPOTENCY_HEADER_PATTERN in the API): a key of 1 to 255
# visible ASCII characters, spaces inside it allowed, bare or in quotes.
KEY = r"[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?"
IDEMPOTENCY_HEADER = re.compile(rf'(?:(?!".*"$){KEY}|"{KEY}")')


@schemathesis.hook
def map_headers(ctx, headers):
    """A valid Idempotency-Key replaced by one unique to the request: the same key with another
    upload is the client's mistake (422), which the document says. Invalid keys stay as drawn."""
    key = (headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and IDEMPOTENCY_HEADER.fullmatch(key):
        headers["Idempotency-Key"] = uuid.uuid4().hex
    return headers
