"""What a table's columns do, apart from drawing: which of them fit a width, the key that
sorts on each, how cells order. Pure functions: LiveTable calls them, tests can too."""

from __future__ import annotations

import string
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text

from swarmdeck.core.views import natural_key

GAP = 2  # spaces between columns
PINNED_MIN = 14  # a pinned first column shrinks to this when the first columns do not fit
SHRINK_MIN = 12  # the least a shrinkable column (an image, labels) is given to show at all
SHRINK_FLOOR = 5  # ... and the least it keeps when the row is too wide anyway
MISSING = ("", "-")  # cells that show no value: last in any order


class Ranked(Text):
    """A cell that sorts by its RANK (a number: CPU, bytes, a time), not by what it reads.
    A rank of None sorts last either way, as cells that show no value do."""

    rank: float | tuple | None = None


def ranked(text: Text, rank: float | tuple | None) -> Ranked:
    cell = Ranked(text.plain, style=text.style, justify=text.justify, spans=list(text.spans))
    cell.rank = rank
    return cell


def sort_key(value: str | Text) -> tuple | None:
    """How a source cell orders: numbers by rank, text naturally (f2 before f10); None when
    it shows nothing."""
    if isinstance(value, Ranked):
        return None if value.rank is None else (0, value.rank)
    plain = value.plain if isinstance(value, Text) else str(value)
    return None if plain.strip() in MISSING else (1, natural_key(plain))


def line_width(widths: Sequence[int]) -> int:
    """A line's characters: the columns, the gaps, a space at either end."""
    return sum(widths) + GAP * max(0, len(widths) - 1) + 2


@dataclass(frozen=True)
class Priorities:
    """ALWAYS: the columns shown at any width; OPTIONAL: the others, most wanted first,
    shown while they fit (columns in neither come after them); SHRINK: columns cut to the
    room left rather than left out; PINNED: the first column stays when scrolling sideways
    (and shrinks first when the row is too wide)."""

    always: Sequence[str]
    optional: Sequence[str] = ()
    shrink: Collection[str] = ()
    pinned: bool = False

    def order(self, keys: Sequence[str]) -> list[str]:
        """KEYS, most important first."""
        ranked_keys = [k for k in [*self.always, *self.optional] if k in keys]
        return list(dict.fromkeys(ranked_keys)) + [k for k in keys if k not in ranked_keys]


def fit_columns(keys: Sequence[str], full: Sequence[int], room: int, wanted: Priorities,
                also: str | None = None) -> tuple[list[int], list[int]]:
    """The columns to draw in ROOM characters (indices, left to right) and their widths.
    FULL: each column's widest cell. ALSO: a column shown at any width too (the one sorted
    on: the order is seen). The optional columns come in order: a later one never shows
    while an earlier one does not."""
    least = [min(w, SHRINK_MIN) if k in wanted.shrink else w
             for k, w in zip(keys, full, strict=True)]
    first = [k for k in dict.fromkeys([*wanted.always, *([also] if also else [])])
             if k in keys]
    chosen = [keys.index(k) for k in first]
    for key in wanted.order(keys):
        i = keys.index(key)
        if i in chosen:
            continue
        if room > 0 and line_width([*(least[j] for j in chosen), least[i]]) <= room:
            chosen.append(i)
        else:
            break
    shown = sorted(chosen)
    widths = [least[i] for i in shown]
    spare = room - line_width(widths)
    for n, i in enumerate(shown):  # shrinkable columns take the room left, in order
        if spare > 0 and widths[n] < full[i]:
            grow = min(spare, full[i] - widths[n])
            widths[n] += grow
            spare -= grow
    over = -spare if room > 0 else 0
    if wanted.pinned and widths and over > 0:
        narrower = max(min(widths[0], PINNED_MIN), widths[0] - over)
        over -= widths[0] - narrower
        widths[0] = narrower
    for n, i in enumerate(shown):  # still too wide: shrinkable columns give more
        if over > 0 and keys[i] in wanted.shrink and widths[n] > SHRINK_FLOOR:
            cut = min(over, widths[n] - SHRINK_FLOOR)
            widths[n] -= cut
            over -= cut
    return shown, widths


def sort_letters(columns: Sequence[tuple[str, str]], taken: Collection[str],
                 keep: Mapping[str, str] | None = None) -> dict[str, str]:
    """A shift+letter per column of COLUMNS ((key, label), most important first): a letter
    of its label if one is free, else the nearest free one. Free: not in TAKEN (the keys
    bound where the table has the focus), nor given to another column. KEEP: the letters
    given before (other columns, e.g. the all-clusters view's): a column keeps its own."""
    used = set(taken)
    letters = {key: letter for key, letter in (keep or {}).items()
               if key in dict(columns) and letter not in used}
    used.update(letters.values())
    for key, label in columns:
        if key in letters:
            continue
        free = [c for c in string.ascii_uppercase if c not in used]
        if not free:
            break
        word = label.rstrip(">").upper()
        letter = next((c for c in word if c in free), None) or min(
            free, key=lambda c: abs(ord(c) - ord((word or "A")[0])))
        letters[key] = letter
        used.add(letter)
    return {key: letters[key] for key, _label in columns if key in letters}


def header_label(label: str, letter: str | None, arrow: bool | None) -> Text:
    """A column's header: LABEL, the LETTER that sorts on it underlined (or added when the
    label has none of it), and ↓ or ↑ when it is sorted on (ARROW: reversed or not)."""
    text = Text(label.rstrip(">"))
    if letter:
        at = text.plain.upper().find(letter)
        if at >= 0:
            text.stylize("underline", at, at + 1)
        else:
            text.append("(")
            text.append(letter, style="underline")
            text.append(")")
    if arrow is not None:
        text.append("↓" if arrow else "↑")
    return text
