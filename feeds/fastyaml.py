"""A fast path for front matter: the same result as :func:`feeds.frontmatter.load_yaml`, sooner.

PyYAML (even its C loader) spends about 250 µs on a 2 KB front matter, most of it building
Python objects in Python. `yaml-rs <https://pypi.org/project/yaml-rs/>`_ parses the same
text in Rust about 8 times faster, but it follows YAML 1.2 and is not a drop-in
replacement: ``yes``/``on`` stay strings, ``017`` is 17 (PyYAML: 15), ``1e3`` is a float
(PyYAML: a string), ``1:20`` is a string (PyYAML: 80), quoted ``"2021-09-20"`` becomes a
date (PyYAML: a string), it accepts line separators PyYAML rejects, and so on.

So the fast path only runs on text that the gate (:data:`_GATE_PATTERN`) accepts: a
conservative subset of block YAML in which every scalar means the same thing to both
parsers. Line by line,
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

import re
from collections.abc import Callable
from typing import Any

_NOT_NA = r"\x80-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff"
"""The characters outside ASCII that PyYAML refuses or reads as line breaks: C1 controls
(``\\x85`` among them), the line and paragraph separators, surrogates, the BOM and two
non-characters. Every other one PyYAML takes as it is, so a class of text leaves these
out together with the ASCII characters it does not take: ``[^\\x00-\\x1f\\x7f{_NOT_NA}]``
is printable ASCII and every non-ASCII character PyYAML accepts."""
# The gate is one regular expression, spelled so that Python's backtracking matcher does
# little besides reading characters:
#
# * possessive quantifiers: what a repetition took is never given back;
# * alternatives start with a character or a character class, which the matcher tests
#   before entering them (a lookahead comes after it, or in the last alternative);
# * optional groups are spelled ``(?:X|)``.
#
# * classes of text are spelled by what they leave out (see :data:`_NOT_NA`): ``re``
#   compiles a class by marking each code point it holds below U+10000, and the same
#   classes spelled by what they take in (about 63,000 each) made compiling the gate
#   take 42-55 ms, not 8-10.
#
# It takes 14 µs on a 2 KB front matter of the benchmark corpus.
_S = "[Ss\u017f]"
"""An ``s`` of a YAML 1.1 word: ``re`` ignoring case also reads U+017F (long s) as one."""
_WORD = (
    rf"(?:[Yy](?:[Ee]{_S})?|[Nn](?:[Oo]|[Uu][Ll][Ll])?|[Oo](?:[Nn]|[Ff][Ff])"
    rf"|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll]{_S}[Ee])"
)
"""YAML 1.1 booleans and nulls (any case): never a plain key or plain string here."""
_EOL = r"(?![^\n])"
"""The end of a line (a line break or the end of the text)."""
_COMMENT = rf"\#[^\x00-\x1f\x7f{_NOT_NA}]*+"
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
    rf'"{_NO_DATE}(?:[^\x00-\x1f\x22\x5c\x7f{_NOT_NA}]++'
    r"|\\[\\\"/ 0abefnrtvN_LP]"
    r"|\\x[0-9a-fA-F]{2}"
    r"|\\u(?![dD][89a-fA-F])[0-9a-fA-F]{4}"
    r"|\\U(?:000[1-9a-fA-F]|0010)[0-9a-fA-F]{4}"
    r')*+"'
)
_SINGLE = rf"'{_NO_DATE}(?:[^\x00-\x1f\x27\x7f{_NOT_NA}]++|'')*+'"
_PLAIN = (
    # The first letter tells whether the text may be a word, then one lookahead tells.
    # The class: the ASCII letters that start no YAML 1.1 word, ``$``, ``(`` and ``/``,
    # and any non-ASCII character PyYAML takes.
    rf"(?:[^\x00-\x23\x25-\x27\x29-\x2e\x30-\x40FNOTY\x5b-\x60fnoty\x7b-\x7f{_NOT_NA}]"
    rf"|(?!{_WORD}{_END})[FfNnOoTtYy])"
    rf"(?:[^\x00-\x20\x23\x3a\x7f{_NOT_NA}]++|:(?=[^ \n])| [ ]*+(?=[^ \n#])|\#)*+"
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
_GATE_PATTERN = rf"(?:{_LINE}(?:\n|\Z))*+"
"""Lines, each ending at a line break or at the end of the text."""

PYYAML_FIRST = 24
"""How many front matters a process reads with PyYAML alone before it compiles the gate,
unless :func:`expect` told it how many are coming. Compiling it and importing yaml-rs
cost 12-17 ms, and the fast path saves about 720 µs on a front matter of the benchmark
corpus (PyYAML 830 µs, the fast path 110): the gate comes once PyYAML has spent about
what it would have cost (a run that rereads a few articles never pays for it, and a
process told nothing never spends more than twice what the best choice would have)."""

_gate: re.Pattern[str] | None = None
_loads: Callable[[str], Any] | None = None
"""yaml-rs's ``loads``, imported with the gate (``None`` before, and where it has no
wheel: then PyYAML reads everything)."""
_before_gate = PYYAML_FIRST


def expect(count: int) -> None:
    """This process is about to read ``count`` front matters: compile the gate now if the
    fast path repays it on them (so that workers forked after start with it), or read them
    with PyYAML alone."""
    global _before_gate
    if _gate is None:
        _before_gate = 0 if count >= PYYAML_FIRST else count
        if count >= PYYAML_FIRST:
            _compile()


def _compile() -> re.Pattern[str] | None:
    global _gate, _loads
    try:
        from yaml_rs import loads
    except ImportError:  # pragma: no cover - no wheel for this platform: always PyYAML
        return None
    _loads, _gate = loads, re.compile(_GATE_PATTERN)
    return _gate


def load_yaml_gated(text: str) -> dict[str, Any] | None:
    """:func:`load_yaml_fast`, with the gate compiled first if it is not yet: for a text
    read before any front matter (``feeds.yaml``). The gate and yaml-rs cost 12-17 ms,
    importing PyYAML 15-20; with the gate compiled, the front matters read later take the
    fast path too, and a run whose YAML all passes it never imports PyYAML."""
    if _gate is None and _compile() is None:
        return None
    return load_yaml_fast(text)


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
    global _before_gate
    gate, loads = _gate, _loads
    if gate is None or loads is None:
        if _before_gate > 0:
            _before_gate -= 1
            return None
        gate, loads = _compile(), _loads
        if gate is None or loads is None:
            _before_gate = 2**62  # no yaml-rs here: never try again
            return None
    if not gate.fullmatch(text):
        return None
    try:
        data = loads(text)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # any refusal, even a Rust panic (a BaseException): PyYAML decides
        return None
    return data if type(data) is dict else None
