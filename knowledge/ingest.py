"""Turn an uploaded knowledge document (plain text, Markdown or HTML) into a title and clean text.

The text keeps the document's structure in one small Markdown-like form that `knowledge.chunking`
reads: headings are `#` lines (HTML `<h2>` becomes `## ...`) and paragraphs are separated by blank
lines. Anything else (PDF, images, archives, other binaries) is `UnsupportedMediaType` (415); a
document with no readable text is `Unprocessable` (422).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from core.errors import Unprocessable, UnsupportedMediaType

SUPPORTED = "plain text (.txt), Markdown (.md) or HTML (.html)"

_TYPES = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
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

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    text: str


def detect_format(*, filename: str, content_type: str | None) -> str:
    """`text`, `markdown` or `html`, from the content type and the file name; 415 otherwise."""
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


def parse_document(*, filename: str, content_type: str | None, data: bytes) -> ParsedDocument:
    """Parse an upload into a title and structured text (see the module docstring)."""
    kind = detect_format(filename=filename, content_type=content_type)
    if data.startswith(_BINARY_MAGIC):
        raise UnsupportedMediaType(f"{filename or 'document'} is a binary file: upload {SUPPORTED}")
    fallback_title = _title_from_filename(filename)
    if kind == "html":
        title, text = _parse_html(data)
    else:
        raw = _decode(data)
        if kind == "markdown":
            title, text = _parse_markdown(raw)
        else:
            title, text = "", _normalise(raw)
    if not any(line.strip() and not _HEADING.match(line) for line in text.split("\n")):
        raise Unprocessable(f"{filename or 'document'} contains no text")
    return ParsedDocument(title=title or fallback_title, text=text)


# --------------------------------------------------------------------------- helpers


def _title_from_filename(filename: str) -> str:
    stem = PurePosixPath(filename or "").stem
    return re.sub(r"[_-]+", " ", stem).strip() or "Untitled"


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


def _normalise(text: str) -> str:
    """Unix newlines, collapsed spaces inside lines, at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [re.sub(r"[ \t\f\v\u00a0]+", " ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip()


def _parse_markdown(raw: str) -> tuple[str, str]:
    """Keep headings (setext headings become `#` lines), drop images, HTML comments and link
    targets, unwrap emphasis. Title: the first heading."""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    raw = re.sub(r"<!--.*?-->", "", raw, flags=re.S)
    raw = re.sub(r"\A---\n.*?\n---\n", "", raw, flags=re.S)  # YAML front matter
    lines = raw.split("\n")
    out: list[str] = []
    title = ""
    for line in lines:
        if _SETEXT.match(line) and out and out[-1].strip() and not _HEADING.match(out[-1]):
            level = "#" if line.lstrip().startswith("=") else "##"
            out[-1] = f"{level} {out[-1].strip()}"
            continue
        out.append(line)
    cleaned: list[str] = []
    for line in out:
        line = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", line)  # images → alt text
        line = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line)  # links → their text
        line = re.sub(r"(\*\*|__)(.+?)\1", r"\2", line)
        line = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", line)
        line = re.sub(r"`([^`]+)`", r"\1", line)
        heading = _HEADING.match(line.strip())
        if heading:
            line = f"{heading.group(1)} {heading.group(2).strip()}"
            if not title:
                title = heading.group(2).strip()
        cleaned.append(line)
    return title, _normalise("\n".join(cleaned))


_DROP_TAGS = ("script", "style", "nav", "noscript", "template", "svg", "iframe", "head")
_BLOCK_TAGS = (
    "p",
    "div",
    "section",
    "article",
    "main",
    "aside",
    "header",
    "footer",
    "li",
    "dt",
    "dd",
    "tr",
    "table",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "form",
    "ul",
    "ol",
    "dl",
    "address",
)


def _parse_html(data: bytes) -> tuple[str, str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    h1 = soup.find("h1")
    if not title and h1 is not None:
        title = h1.get_text(" ", strip=True)
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            text = heading.get_text(" ", strip=True)
            heading.replace_with(f"\n\n{'#' * level} {text}\n\n" if text else "\n")
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_before("\n\n")
        block.insert_after("\n\n")
    for cell in soup.find_all(("td", "th")):
        cell.insert_after(" ")
    text = soup.get_text()
    return re.sub(r"\s+", " ", title).strip(), _normalise(text)
