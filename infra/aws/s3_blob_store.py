"""BlobStore on S3: one object per blob under `tenants/<t>/<key>` in the stage's bucket.

The port builds the tenant-prefixed path, so one tenant can never name another's object; the
bucket itself is private and encrypted at rest (serverless.yml).
"""

from __future__ import annotations

from typing import IO, Any

from core.ports import BlobStore
from infra.aws.dynamodb_items import error_code

_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3BlobStore(BlobStore):
    def __init__(self, *, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self.client = client

    def _put(self, path: str, data: bytes, content_type: str) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": path, "Body": data}
        if content_type:
            kwargs["ContentType"] = content_type
        self.client.put_object(**kwargs)

    def _put_file(self, path: str, file: IO[bytes], content_type: str) -> None:
        """Streamed upload (multipart above boto3's threshold): never the whole file in memory."""
        extra = {"ContentType": content_type} if content_type else {}
        self.client.upload_fileobj(file, self.bucket, path, ExtraArgs=extra)

    def _get(self, path: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=path)
        except Exception as exc:
            if error_code(exc) in _MISSING:
                return None
            raise
        body: bytes = response["Body"].read()
        return body

    def _delete(self, path: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=path)

    def _list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys
