"""Turn an uploaded knowledge document (plain text, Markdown, HTML or PDF) into a title and
structured text.

The text keeps the document's structure in the small Markdown-like form `knowledge.chunking`
reads (see `knowledge.structured_text`): headings are `#` lines (HTML `<h2>` becomes `## ...`)
and paragraphs are separated by blank lines. Each format has a maintained parser that runs in
linear time (markdown-it-py, lxml, pypdf; imported when first used, so the API starts without
them) and every parse runs under a time budget (`ParseBudget`): past it, `DocumentTooComplex`
(422). Other types (images, archives, other binaries) are `UnsupportedMediaType` (415); a document
with no readable text is `Unprocessable` (422). This is CPU work: callers on an event loop run it
in a worker thread (`knowledge.documents.add_document` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from core.errors import Unprocessable, UnsupportedMediaType
from knowledge.parse_budget import ParseBudget
from knowledge.pdf_text import DEFAULT_MAX_PDF_PAGES
from knowledge.structured_text import has_body, normalise, short_title

SUPPORTED = "plain text (.txt), Markdown (.md), HTML (.html) or PDF (.pdf)"

MEDIA_TYPES = {
    "text": "text/plain",
    "markdown": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
}
_TYPES = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
}
_EXTENSIONS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}
# Content types that say nothing specific: the file name decides.
_GENERIC = {"", "application/octet-stream", "text/plain", "binary/octet-stream"}
# Magic numbers of common binary formats that are sometimes uploaded under a text name.
_BINARY_MAGIC = (
    b"%PDF",
    b"PK\x03\x04",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"\x1f\x8b",
    b"RIFF",
    b"\xd0\xcf\x11\xe0",
)


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    text: str
    kind: str = "text"  # text, markdown, html or pdf

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.kind]


def detect_format(*, filename: str, content_type: str | None) -> str:
    """`text`, `markdown`, `html` or `pdf`, from the content type and the file name; 415
    otherwise."""
    media = (content_type or "").split(";")[0].strip().lower()
    suffix = PurePosixPath(filename or "").suffix.lower()
    if media in _TYPES and media not in _GENERIC:
        return _TYPES[media]
    if media in _GENERIC:
        if suffix in _EXTENSIONS:
            return _EXTENSIONS[suffix]
        if media == "text/plain" or (not media and not suffix):
            return "text"
    raise UnsupportedMediaType(
        f"unsupported document type {media or suffix or 'unknown'!r}: upload {SUPPORTED}"
    )


def parse_document(
    *,
    filename: str,
    content_type: str | None,
    data: bytes,
    budget: ParseBudget | None = None,
    max_pages: int = DEFAULT_MAX_PDF_PAGES,
) -> ParsedDocument:
    """Parse an upload into a title and structured text (see the module docstring), within
    `budget` (a fresh default budget when None) and, for a PDF, `max_pages`."""
    kind = detect_format(filename=filename, content_type=content_type)
    name = filename or "document"
    budget = budget if budget is not None else ParseBudget()
    budget.start()
    if kind == "pdf":
        from knowledge.pdf_text import pdf_to_text

        title, text = pdf_to_text(data, name=name, budget=budget, max_pages=max_pages)
    elif data.startswith(_BINARY_MAGIC):
        raise UnsupportedMediaType(f"{name} is a binary file: upload {SUPPORTED}")
    elif kind == "html":
        from knowledge.html_text import html_to_text

        title, text = html_to_text(data, budget=budget)
    elif kind == "markdown":
        from knowledge.markdown_text import markdown_to_text

        title, text = markdown_to_text(_decode(data), budget=budget)
    else:
        title, text = "", _decode(data)
    text = normalise(text, budget=budget)
    budget.check()
    if not has_body(text):
        raise Unprocessable(f"{name} contains no text")
    return ParsedDocument(title=title or _title_from_filename(filename), text=text, kind=kind)


# --------------------------------------------------------------------------- helpers


def _title_from_filename(filename: str) -> str:
    stem = PurePosixPath(filename or "").stem
    return short_title(stem.replace("_", " ").replace("-", " ")) or "Untitled"


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise Unprocessable("document is not valid UTF-16 text") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unprocessable("document is not valid UTF-8 text") from exc
    if "\x00" in text:
        raise Unprocessable("document is not text (it contains NUL bytes)")
    return text
