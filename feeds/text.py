"""Text cleaning shared by the collector: what goes into a feed is readable and XML-safe."""

from __future__ import annotations

import html
import re

TITLE_LIMIT = 500
"""Longest title kept, in characters; longer ones are cut at a word boundary."""
SUMMARY_LIMIT = 5000
"""Longest summary kept, in characters; longer ones are cut at a word boundary."""

# Characters XML 1.0 cannot carry (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/FFFF),
# plus C1 controls, DEL and U+FFFD (what is left of an undecodable byte or a bogus
# entity such as &#0;), which the W3C validator flags and no reader can show usefully.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffd\ufffe\uffff]")
_LITERAL_ESCAPES = re.compile(r"\\[rnt]")
_SPACE = re.compile(r"\s+")
_MOJIBAKE_HINT = re.compile("[ÃÂâ][\x80-\xbf€™œžŸ¡-¿]")


_MARKUP = re.compile(r"</[A-Za-z]|&#?[A-Za-z0-9]")


def looks_like_markup(value: str) -> bool:
    """An end tag or an entity: what readers and validators take for HTML in plain text."""
    return _MARKUP.search(value) is not None


def xml_safe(text: str) -> str:
    """Drop the characters XML 1.0 cannot carry."""
    if text.isascii() and text.isprintable():  # no control character: nothing to drop
        return text
    return _ILLEGAL.sub("", text)


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 read as Windows-1252 ("â€™" for "’"), only where that is certain."""
    if not _MOJIBAKE_HINT.search(text):
        return text
    for codec in ("cp1252", "latin-1"):
        try:
            fixed = text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
        return fixed
    return text


# Printable ASCII words separated by single spaces, with no "&" or "\\": text that
# plain_text would return unchanged (most titles and summaries). Checked in one match,
# possessive (a word ends at a space, which no word holds, so nothing is given back):
# 0.31 µs instead of 0.44 µs on a 77 character title.
_ALREADY_PLAIN = re.compile(r"[!-%'-\[\]-~]++(?: [!-%'-\[\]-~]++)*+")


def plain_text(raw: str) -> str:
    """Entities decoded, literal ``\\r\\n`` and runs of white space folded to one space."""
    if _ALREADY_PLAIN.fullmatch(raw):
        return raw
    text = _LITERAL_ESCAPES.sub(" ", raw)
    text = html.unescape(text)
    text = fix_mojibake(text)
    text = xml_safe(text)
    return _SPACE.sub(" ", text).strip()


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters at a word boundary, marking the cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"
