"""The one text cleaner: any data as one line with no control, colour or bidi characters."""

from __future__ import annotations

import re

# The one line cleaner's rules; the compat plugins' `clean_line` applies the same ones (a
# test runs both over one hostile corpus). Line breaks, tabs and other space-like breaks:
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]")
# IRC colour codes with their colour numbers (\x03NN,NN) and hex colours (\x04RRGGBB,RRGGBB):
# a client shows neither the code nor its digits, so neither is part of the text.
_COLOURS = re.compile(r"\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?"
                      r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?")
# Every other control character (C0 incl. CTCP's \x01 and the formatting codes, DEL, C1),
# the BOM, and the bidi controls that would reorder the rest of the line: embeddings,
# overrides and isolates (U+202A-E, U+2066-9) and the marks LRM, RLM, ALM (U+200E/F, U+061C).
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ufeff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r" {2,}")


def clean(text: str) -> str:
    """`text` as one IRC-safe line; every cleaner in ntrbot is this one.

    Line breaks and tabs become a space; IRC colour codes go with their colour numbers;
    every other control character (formatting codes, CTCP's \\x01, NUL, DEL, C1), the BOM
    and bidi controls (overrides, isolates, LRM/RLM/ALM marks) are removed; runs of spaces
    become one; the ends are stripped. A lone surrogate becomes one U+FFFD (a split
    surrogate pair is rejoined), so the line always encodes as UTF-8. Cleaning a clean line
    changes nothing.
    """
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = _INVISIBLE.sub("", _COLOURS.sub("", _LINE_BREAKS.sub(" ", text)))
    return _SPACES.sub(" ", text).strip()
