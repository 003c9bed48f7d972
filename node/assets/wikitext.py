"""MediaWiki markup to plain prose: a pure function, so the corpus is reproducible and testable.

Not a MediaWiki renderer: the aim is text a language model can be scored on, so anything that is
not running prose (templates, tables, references, galleries, file captions, category and
interlanguage links, reference sections) is dropped and inline markup is reduced to its visible
text. Order matters: comments go first because they often hide `<ref>` tags and braces; templates
before tables because `{{!}}`-style templates build table syntax; links after both because
templates and tables contain links of their own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

# Paired tags whose content is not prose: dropped with their content.
_DROP_WITH_CONTENT = (
    "ref", "math", "gallery", "timeline", "imagemap", "score", "syntaxhighlight", "source",
    "graph", "chem", "ce", "hiero", "references", "mapframe", "templatedata", "noinclude", "nowiki", "pre",
)  # fmt: skip
# Sections that hold citations and link lists, not prose (compared lowercased).
_DROP_SECTIONS = {
    "references", "notes", "footnotes", "citations", "sources", "bibliography", "works cited",
    "further reading", "external links", "see also", "notes and references", "references and notes",
}  # fmt: skip
# Link prefixes that are not inline text (files, categories, other wikis' languages).
_DROP_LINK_PREFIX = re.compile(r"^\s*:?\s*(file|image|media|category|[a-z]{2,3}(-[a-z]+)*)\s*:", re.I)
# Prefixes that stay visible as text when the link has no label (`[[wikt:foo]]` -> `foo`).
_INTERWIKI_PREFIX = re.compile(r"^\s*:?\s*(wikt|wiktionary|wikisource|s|w|commons|q|wikiquote|v|b)\s*:", re.I)

_COMMENT = re.compile(r"<!--.*?(-->|\Z)", re.S)
_PAIRED = re.compile(r"<(" + "|".join(_DROP_WITH_CONTENT) + r")\b[^>]*?(?<!/)>.*?(</\1\s*>|\Z)", re.S | re.I)
_SELF_CLOSING = re.compile(r"<(" + "|".join(_DROP_WITH_CONTENT) + r")\b[^>]*/>", re.I)
# "Innermost" spans: no nested opener or closer inside (single braces/brackets are fine).
_INNER_TEMPLATE = re.compile(r"\{\{((?:(?!\{\{|\}\}).)*)\}\}", re.S)
_INNER_TABLE = re.compile(r"\{\|((?:(?!\{\||\|\}).)*)\|\}", re.S)
_INNER_LINK = re.compile(r"\[\[((?:(?!\[\[|\]\]).)*)\]\]", re.S)
_EXTERNAL_LINK = re.compile(r"\[(?:https?:|ftp:)?//[^\s\]]+(?:\s+([^\]]*))?\]")
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*\b[^>]*>")
_QUOTES = re.compile(r"'{2,}")
_HEADING = re.compile(r"^(=+)\s*(.*?)\s*\1\s*$")
_MAGIC_WORD = re.compile(r"__[A-Z]+__")
_EMPTY_BRACKETS = re.compile(r"\(\s*[,;:]?\s*\)|\[\s*\]")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)])")
_SPACES = re.compile(r"[ \t\u00a0\u2009\u200a\u202f]+")

# Inline templates whose output is part of the sentence; everything else is dropped.
_KEEP_LAST_ARG = {"nowrap", "nobr", "lang", "small", "smaller", "big", "script", "nowiki", "transl"}


def _positional(args: list[str]) -> list[str]:
    return [a.strip() for a in args if "=" not in a]


def _render_template(inner: str) -> str:
    """The visible text of the few inline templates we keep; '' for all others."""
    name, *args = inner.split("|")
    name = name.strip().lower().replace("_", " ")
    pos = _positional(args)
    if name in ("convert", "cvt") and len(pos) >= 2:
        # {{convert|5|mi|km}} -> "5 mi"; {{convert|1|-|3|ft|m}} -> "1-3 ft"
        if len(pos) >= 4 and pos[1] in ("-", "to", "and", "or", "by", "x", "–"):
            sep = "-" if pos[1] in ("-", "–") else f" {pos[1]} "
            return f"{pos[0]}{sep}{pos[2]} {pos[3]}"
        return f"{pos[0]} {pos[1]}"
    if (name in _KEEP_LAST_ARG or name.startswith("lang-")) and pos:
        return pos[-1]
    return ""


def _sub_until_stable(pattern: re.Pattern[str], repl: str | Callable[[re.Match[str]], str], text: str) -> str:
    """Apply an innermost-first substitution until nothing matches (handles any nesting depth)."""
    while True:
        new = pattern.sub(repl, text)
        if new == text:
            return text
        text = new


def _render_link(match: re.Match[str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if _DROP_LINK_PREFIX.match(target) and not _INTERWIKI_PREFIX.match(target):
        return ""
    if label:
        # [[a|b]] -> b; a pipe trick `[[a (b)|]]` -> a
        return label.rsplit("|", 1)[-1] if label.strip() else re.sub(r"\s*\(.*\)$", "", target)
    return _INTERWIKI_PREFIX.sub("", target).lstrip(":")


def strip_markup(text: str) -> str:
    """Inline cleaning of a whole page: everything except the line-level work of `to_prose`."""
    text = _COMMENT.sub("", text)
    text = _PAIRED.sub("", text)
    text = _SELF_CLOSING.sub("", text)
    text = _sub_until_stable(_INNER_TEMPLATE, lambda m: _render_template(m.group(1)), text)
    text = _sub_until_stable(_INNER_TABLE, "", text)
    text = _sub_until_stable(_INNER_LINK, _render_link, text)
    text = _EXTERNAL_LINK.sub(lambda m: m.group(1) or "", text)
    text = _HTML_TAG.sub("", text)
    text = _QUOTES.sub("", text)
    text = _MAGIC_WORD.sub("", text)
    # Unbalanced leftovers (a stray `{{` in a broken page) must not leak markup into the corpus.
    for token in ("{{", "}}", "[[", "]]", "{|", "|}"):
        text = text.replace(token, "")
    return html.unescape(text)


def _clean_line(line: str) -> str:
    line = _SPACES.sub(" ", line).strip()
    line = _EMPTY_BRACKETS.sub("", line)
    line = _SPACE_BEFORE_PUNCT.sub(r"\1", line)
    return _SPACES.sub(" ", line).strip()


def to_prose(wikitext: str) -> str:
    """Plain text of a MediaWiki page: paragraphs separated by a blank line, headings kept as lines."""
    blocks: list[tuple[int, str]] = []  # (heading level, text); level 0 is a paragraph
    current: list[str] = []
    skip_level = 0  # inside a dropped section of this heading level (0: not skipping)

    def flush() -> None:
        if current:
            blocks.append((0, " ".join(current)))
            current.clear()

    for raw in strip_markup(wikitext).splitlines():
        stripped = raw.strip()
        heading = _HEADING.match(stripped)
        if heading:
            flush()
            level, title = len(heading.group(1)), _clean_line(heading.group(2))
            if skip_level and level > skip_level:
                continue
            skip_level = level if title.lower() in _DROP_SECTIONS else 0
            if not skip_level and title:
                blocks.append((level, title))
        elif skip_level or stripped[:1] in ("|", "!"):  # dropped section, or rows of a broken table
            continue
        elif stripped[:1] in ("*", "#", ":", ";"):
            flush()
            line = _clean_line(stripped.lstrip("*#:;"))
            if re.search(r"\w", line):
                blocks.append((0, line))
        elif line := _clean_line(stripped):
            if re.search(r"\w", line):
                current.append(line)
        else:
            flush()
    flush()
    return "\n\n".join(text for i, (level, text) in enumerate(blocks) if not _empty_section(blocks, i)).strip()


def _empty_section(blocks: list[tuple[int, str]], i: int) -> bool:
    """A heading followed by nothing but a same-or-higher heading: its content was all markup."""
    level = blocks[i][0]
    if level == 0:
        return False
    nxt = blocks[i + 1][0] if i + 1 < len(blocks) else 1
    return nxt != 0 and nxt <= level
