"""A fast path for front matter: the same result as :func:`feeds.frontmatter.load_yaml`, sooner.

PyYAML (even its C loader) spends about 250 µs on a 2 KB front matter, most of it building
Python objects in Python. `yaml-rs <https://pypi.org/project/yaml-rs/>`_ parses the same
text in Rust about 8 times faster, but it follows YAML 1.2 and is not a drop-in
replacement: ``yes``/``on`` stay strings, ``017`` is 17 (PyYAML: 15), ``1e3`` is a float
(PyYAML: a string), ``1:20`` is a string (PyYAML: 80), quoted ``"2021-09-20"`` becomes a
date (PyYAML: a string), it accepts line separators PyYAML rejects, and so on.

So the fast path only runs on text that the gate (:func:`_safe`) accepts: a conservative subset of
block YAML in which every scalar means the same thing to both parsers. Line by line,
that is comments, ``key: value`` and ``- value`` (any mix, any indentation), where a key
is a plain word starting with an ASCII letter that YAML 1.1 does not read as a boolean
or null, and a value is

* nothing (null, or a nested block below), ``null``, ``~``, ``true``, ``false``, ``[]``, ``{}``;
* a decimal integer without leading zeros, or a decimal number with a fraction (a few
  digits: PyYAML fails on integers of more than 4,300);
* a timestamp ``YYYY-MM-DD``, optionally ``[T ]hh:mm:ss[.fraction][Z|±hh:mm]``; one
  that names no real day (``2021-02-30``, year 0) is its text to both: yaml-rs leaves it
  a string, and ``load_yaml`` gives the text where PyYAML itself would fail (the tests
  check the days that may not exist, of every year, with times and without);
* a plain string starting with a letter, not a YAML 1.1 boolean/null word, without
  ``: `` or `` #`` in it (not starting with ``_``: yaml-rs reads ``_1`` as the number 1);
* a single- or double-quoted string on one line (double-quoted: the escapes both parsers
  read alike, no UTF-16 surrogates), not starting with digits and ``-``/``:`` (yaml-rs
  turns quoted dates and times into objects) or with an escape.

Characters YAML 1.1 treats as line breaks or refuses (``\\x85``, U+2028, U+2029, C0
controls, ``\\r``, tabs, BOM) anywhere send the text to PyYAML too, as do anchors,
aliases, tags, merge keys, flow collections, block scalars, quoted scalars over several
lines, deep nesting and duplicate keys (yaml-rs refuses those; PyYAML then reports
them). Anything yaml-rs refuses, or a document that is not a mapping, also falls back.
(A plain scalar continued on a line that looks like ``- item`` passes the gate; both
parsers fold it into the same string, as the property tests check.)

The contract, checked by ``tests/test_fastyaml.py`` on the bundled content, on a
generated corpus and on generated YAML: :func:`load_yaml_fast` returns ``None`` or a dict
equal to ``load_yaml(text).data``, with the same types all the way down (``bool`` is not
``int``, datetimes have the same ``tzinfo``).
"""

from __future__ import annotations

import functools
import re
from types import ModuleType
from typing import Any

yaml_rs: ModuleType | None
try:
    import yaml_rs
except ImportError:  # pragma: no cover - no wheel for this platform: always PyYAML
    yaml_rs = None

_NA = "\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff"
"""Non-ASCII characters PyYAML accepts and does not read as line breaks (no BOM)."""
# The gate is one regular expression, spelled so that Python's backtracking matcher does
# little besides reading characters:
#
# * possessive quantifiers: what a repetition took is never given back;
# * alternatives start with a character or a character class, which the matcher tests
#   before entering them (a lookahead comes after it, or in the last alternative);
# * optional groups are spelled ``(?:X|)``, and lines ``LINE(?:\nLINE)*+``.
#
# It accepts exactly the texts that the first, plainer spelling accepted (kept in
# tests/test_fastyaml.py, which checks that the two agree) and takes 14 µs on a 2 KB
# front matter of the benchmark corpus, where the plainer one took 23 µs. Both compile
# in about 65 ms, most of it spent on the classes holding _NA (written as what they
# refuse, they compile in 10 to 20 ms, but match 3 µs slower).
_S = "[Ss\u017f]"
"""An ``s`` of a YAML 1.1 word: ``re`` ignoring case also reads U+017F (long s) as one."""
_WORD = (
    rf"(?:[Yy](?:[Ee]{_S})?|[Nn](?:[Oo]|[Uu][Ll][Ll])?|[Oo](?:[Nn]|[Ff][Ff])"
    rf"|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll]{_S}[Ee])"
)
"""YAML 1.1 booleans and nulls (any case): never a plain key or plain string here."""
_EOL = r"(?![^\n])"
"""The end of a line (a line break or the end of the text)."""
_COMMENT = rf"\#[\x20-\x7e{_NA}]*+"
_END = rf"(?:[ ]++(?:{_COMMENT}|)|){_EOL}"
_KEY = (
    # The first letter tells whether the key may be a word, then one lookahead tells.
    r"(?:[A-EG-MP-SU-XZa-eg-mp-su-xz]"
    rf"|[Yy](?!(?:[Ee]{_S})?:)"
    r"|[Nn](?!(?:[Oo]|[Uu][Ll][Ll])?:)"
    r"|[Oo](?![Nn]:|[Ff][Ff]:)"
    r"|[Tt](?![Rr][Uu][Ee]:)"
    rf"|[Ff](?![Aa][Ll]{_S}[Ee]:))"
    r"[A-Za-z0-9_-]{0,127}+:"
)
_DATE = r"[0-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9}|)"
_ZONE = r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_NO_DATE = r"(?![ ]*+(?:[0-9][0-9]*+[-:][0-9]|\\))"
_DOUBLE = (
    rf'"{_NO_DATE}(?:[\x20\x21\x23-\x5b\x5d-\x7e{_NA}]++'
    r"|\\[\\\"/ 0abefnrtvN_LP]"
    r"|\\x[0-9a-fA-F]{2}"
    r"|\\u(?![dD][89a-fA-F])[0-9a-fA-F]{4}"
    r"|\\U(?:000[1-9a-fA-F]|0010)[0-9a-fA-F]{4}"
    r')*+"'
)
_SINGLE = rf"'{_NO_DATE}(?:[\x20-\x26\x28-\x7e{_NA}]++|'')*+'"
_PLAIN = (
    # The first letter tells whether the text may be a word, then one lookahead tells.
    rf"(?:[A-EG-MP-SU-XZa-eg-mp-su-xz(/${_NA}]|(?!{_WORD}{_END})[FfNnOoTtYy])"
    rf"(?:[\x21\x22\x24-\x39\x3b-\x7e{_NA}]++|:(?=[^ \n])| [ ]*+(?=[^ \n#])|\#)*+"
)
_FRACTION = r"(?:\.[0-9]{1,17}+|)"
_VALUE = (
    rf"(?:{_DOUBLE}"
    rf"|-(?:0|[1-9][0-9]{{0,17}}+){_FRACTION}"  # Python refuses integers of 4,301 digits
    rf"|0{_FRACTION}"
    rf"|[1-9][0-9]{{0,17}}+{_FRACTION}"
    rf"|{_DATE}(?:[T ]{_TIME}(?:{_ZONE}|)|)"
    rf"|true|false|null|~|\[\]|\{{\}}"
    rf"|{_SINGLE}"
    rf"|{_PLAIN})"
)
_ITEMS = r"-[ ]++(?:-[ ]++)*+"
"""One or more ``- `` of block sequences, all of them."""
_LINE = (
    r"(?![ -]{129})[ ]*+"  # at most 128 columns of nesting, like load_yaml
    # a key (maybe after items), and its value, a comment or nothing (a block follows)
    rf"(?:(?:{_ITEMS}|){_KEY}(?:[ ]++(?:{_VALUE}{_END}|(?:{_COMMENT}|){_EOL})|{_EOL})"
    # items, then a value or an empty item (whose "-" ends the line: with a space after
    # it, it would be one of the items)
    rf"|{_ITEMS}(?:{_VALUE}{_END}|-{_EOL})"
    rf"|-{_EOL}"
    rf"|{_COMMENT}"
    r"|)"
)
_SAFE_PATTERN = rf"{_LINE}(?:\n{_LINE})*+"


GATE_WORTH = 50
"""PyYAML takes about 250 µs more per front matter than the fast path, whose gate takes
11 ms to compile (:func:`_quick`): for fewer files than this, PyYAML alone is quicker."""
FAST_GATE_WORTH = 12_000
"""From this many files on, the gate spelled to match quickly (:func:`_safe`: 65 ms to
compile, 4.5 µs a front matter faster) is worth compiling."""


def worth_it(files: int) -> bool:
    """Whether to take the fast path for ``files`` front matters (it gives the same).

    When it is, the gate is compiled here and now: in a process about to fork workers,
    they then share it instead of each compiling its own.
    """
    global _gate
    if yaml_rs is None:
        return False
    if files >= FAST_GATE_WORTH:
        _gate = _safe()
    elif _gate is None and files >= GATE_WORTH:
        _gate = _quick()
    return _gate is not None


_gate: re.Pattern[str] | None = None
"""The gate :func:`load_yaml_fast` uses: the spelling :func:`worth_it` chose last (both
accept the same texts), or :func:`_safe` when it was never asked."""


@functools.cache
def _safe() -> re.Pattern[str]:
    """The gate, compiled on first use: compiling it takes 65 ms, and a run that finds
    nothing changed never reads a front matter."""
    return re.compile(_SAFE_PATTERN)


@functools.cache
def _quick() -> re.Pattern[str]:
    """The gate spelled to compile quickly: 11 ms (a one-edit rebuild reads a few hundred
    files), where a front matter takes 4.5 µs longer to match than with :func:`_safe`."""
    return re.compile(_refusing(_SAFE_PATTERN))


_OTHER = "\x80-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff"
"""The characters from U+0080 on that :data:`_NA` leaves out."""


def _refusing(pattern: str) -> str:
    """``pattern`` with every character class that holds :data:`_NA` written as what it
    refuses (its ASCII characters left out, and :data:`_OTHER`). The classes match the
    same characters (``tests/test_fastyaml.py`` checks every code point), but a class of
    what it refuses compiles about six times faster and matches a little slower."""
    classes = re.compile(r"\[((?:[^\]\\]|\\.)*?)" + re.escape(_NA) + r"\]")  # group 1: ASCII
    return classes.sub(lambda m: f"[^{_ascii_refused(m[1])}{_OTHER}]", pattern)


@functools.cache
def _ascii_refused(allowed: str) -> str:
    """The ASCII characters that the class ``[allowed]`` refuses, as a class body."""
    accepts = re.compile(f"[{allowed}]").fullmatch
    refused = [c for c in range(128) if not accepts(chr(c))]
    runs: list[list[int]] = []  # [first, last] of each run of consecutive characters
    for c in refused:
        if runs and runs[-1][1] == c - 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return "".join(
        f"\\x{first:02x}" if first == last else f"\\x{first:02x}-\\x{last:02x}"
        for first, last in runs
    )


def load_yaml_fast(text: str) -> dict[str, Any] | None:
    """The mapping PyYAML would load from ``text``, or ``None``: then use ``load_yaml``.

    ``None`` means only "not decided here": the text may be fine, or may be an error that
    :func:`feeds.frontmatter.load_yaml` reports with its line. This function never raises
    for any text and never returns a value that differs from ``load_yaml(text).data``.
    It does not give key lines: a caller that reports problems by line reads the file
    again with ``load_yaml`` when there is one to report (rare, so it costs nothing)::

        data = load_yaml_fast(split.front)
        doc = load_yaml(split.front) if data is None else Document(data=data, lines={})
        # ... and if reading ``doc`` finds a problem while ``lines`` is empty,
        # redo it with ``load_yaml(split.front)`` for the exact lines.
    """
    if yaml_rs is None or not (_gate or _safe()).fullmatch(text):
        return None
    try:
        data = yaml_rs.loads(text)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # any refusal, even a Rust panic (a BaseException): PyYAML decides
        return None
    return data if type(data) is dict else None
