"""PDF to structured text with pypdf.

Bounded like the other parsers: the page count is capped (`max_pdf_pages`, 413 over it), the
budget is checked before every page and ticked at every content-stream operator, so a page that
is slow to read stops at the deadline. Each page's text becomes paragraphs (blank lines in the
extracted text, and the page break itself, end a paragraph). Encrypted PDFs, and files that
pypdf cannot read, are 422; a file that only claims to be a PDF is 415. The title is the PDF's
own `/Title`, when it has one.
"""

from __future__ import annotations

import io
from typing import Any

from core.errors import LambdeskError, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from knowledge.parse_budget import ParseBudget
from knowledge.structured_text import StructuredText, short_title

DEFAULT_MAX_PDF_PAGES = 500
# Where a PDF header may start (readers accept leading junk up to this offset).
HEADER_WINDOW = 1024


def is_pdf(data: bytes) -> bool:
    return b"%PDF-" in data[:HEADER_WINDOW]


def _paragraphs(text: str) -> list[list[str]]:
    paragraphs: list[list[str]] = [[]]
    for line in text.split("\n"):
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def _title(reader: Any) -> str:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # a broken info dictionary only loses the title
        return ""
    return short_title(title) if isinstance(title, str) else ""


def pdf_to_text(data: bytes, *, name: str, budget: ParseBudget, max_pages: int) -> tuple[str, str]:
    """(title, structured text) of a PDF."""
    if not is_pdf(data):
        raise UnsupportedMediaType(f"{name} is not a PDF (it has no PDF header)")
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise Unprocessable(
                f"{name} is encrypted: remove its password and upload it again",
                code="document_encrypted",
            )
        count = len(reader.pages)
    except LambdeskError:
        raise
    except Exception as exc:  # pypdf raises many kinds of error on a broken file
        raise Unprocessable(f"{name} is not a readable PDF", code="invalid_pdf") from exc
    if count > max_pages:
        raise PayloadTooLarge(
            f"{name} has {count:,} pages; the limit is {max_pages:,} pages (max_pdf_pages)",
            code="too_many_pages",
        )

    def visit(operator: Any, operands: Any, cm: Any, tm: Any) -> None:
        budget.tick()

    out = StructuredText(budget)
    for number in range(count):
        budget.check()
        try:
            text = reader.pages[number].extract_text(visitor_operand_before=visit)
        except LambdeskError:
            raise
        except Exception as exc:
            raise Unprocessable(
                f"page {number + 1} of {name} cannot be read", code="invalid_pdf"
            ) from exc
        for paragraph in _paragraphs(text):
            out.paragraph(paragraph)
    return _title(reader), out.text()
