"""Receiving an upload (voice now, images next) without holding it in memory: a multipart `file`
part or a raw body is spooled to a temporary file as it streams in (kept in memory only while it
is small), counted against the route's limit on the way, and handed on as a file object that the
blob store streams from. Thirty concurrent 10 MB uploads cost a few MB of memory, not 600."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import IO

from starlette.datastructures import UploadFile
from starlette.requests import Request

from core.errors import BadRequest, PayloadTooLarge

SPOOL_MEMORY_BYTES = 256 * 1024  # above this an upload waits on disk, not in memory
MAX_FORM_FIELDS = 10


@dataclass
class Upload:
    """A received upload, positioned at its start. Close it when done."""

    file: IO[bytes]
    size: int
    content_type: str
    untyped: bool  # no usable declared type: the receiver must sniff the bytes
    filename: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # other multipart fields

    def close(self) -> None:
        self.file.close()


def _untyped(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in ("", "application/octet-stream")


async def receive_upload(
    request: Request, *, max_bytes: int, limit_name: str, part: str = "file"
) -> Upload:
    """The request's upload: the multipart part `part`, or the raw body. 413 naming
    `limit_name` past `max_bytes`; 400 when a multipart body has no such part."""

    def too_large(size: int) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"upload is over {max_bytes} bytes ({limit_name})", code="upload_too_large"
        )

    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS)
        upload = form.get(part)
        if not isinstance(upload, UploadFile):
            await form.close()
            raise BadRequest(f"multipart body needs a `{part}` part", code="missing_file")
        size = upload.size if upload.size is not None else _size(upload.file)
        if size > max_bytes:
            await form.close()
            raise too_large(size)
        upload.file.seek(0)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        part_type = upload.content_type or ""
        return Upload(
            file=upload.file,
            size=size,
            content_type=part_type,
            untyped=_untyped(part_type),
            filename=upload.filename,
            fields=fields,
        )
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 - returned
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise too_large(size)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return Upload(file=spool, size=size, content_type=content_type, untyped=_untyped(content_type))


def _size(file: IO[bytes]) -> int:
    file.seek(0, 2)
    size = file.tell()
    file.seek(0)
    return size
