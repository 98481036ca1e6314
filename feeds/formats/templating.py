"""Jinja for the site pages: autoescape, StrictUndefined, and user templates first.

A ``templates`` folder named in ``feeds.yaml`` overrides built-in templates by file
name; the built-ins stay reachable as ``builtin/<name>`` so an override can
``{% extends "builtin/index.html" %}`` and replace only some blocks. Every Jinja
failure becomes a :class:`~feeds.errors.TemplateError` naming the template file and line.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from typing import Any

import jinja2

from feeds.errors import TemplateError

BUILTIN_PREFIX = "builtin"


def environment(templates: str | None, compiled: str | None = None) -> jinja2.Environment:
    """The environment for a templates folder (``None``: built-in templates only), which
    keeps the templates it compiles in the folder ``compiled`` (``None``: nowhere).

    Made afresh for each render (a few milliseconds per build), so that ``feeds serve``
    sees a template added to the folder while it runs.
    """
    builtin = jinja2.PackageLoader("feeds", "templates")
    loaders: list[jinja2.BaseLoader] = []
    if templates:
        loaders.append(jinja2.FileSystemLoader(templates))
    loaders += [builtin, jinja2.PrefixLoader({BUILTIN_PREFIX: builtin})]
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_Compiled(compiled) if compiled else None,
    )


class _Compiled(jinja2.FileSystemBytecodeCache):
    """Jinja's compiled templates kept in a folder, one file per template, found again
    by the template's name and file and used only for the same source (a checksum) and
    the same Python: compiling ``index.html`` took 20-28 ms of each run that wrote the
    index page, ``group.html`` 10-19 ms of each that wrote a group page. Not kept
    (or not found) is only slower, never a failed build."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # damaged: compiled again, and written over
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            super().dump_bytecode(bucket)


def render_template(templates: str | None, compiled: str | None, name: str, **values: Any) -> bytes:
    """Render template ``name`` to UTF-8; raise TemplateError (file:line: what) on failure."""
    return render_with(environment(templates, compiled), name, **values)


def render_with(env: jinja2.Environment, name: str, **values: Any) -> bytes:
    """:func:`render_template` in a given environment (one made for many pages)."""
    try:
        return env.get_template(name).render(**values).encode("utf-8")
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(e.filename or e.name or name, e.lineno, e.message or str(e)) from None
    except jinja2.TemplateError as e:
        path, line = _location(e, env, name)
        raise TemplateError(path, line, e.message or str(e)) from None


def _location(error: Exception, env: jinja2.Environment, name: str) -> tuple[str, int]:
    """The innermost template frame of a render error (Jinja rewrites tracebacks to them)."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if not frame.filename.endswith(".py") and frame.lineno is not None:
            return frame.filename, frame.lineno
    try:
        _, filename, _ = env.loader.get_source(env, name) if env.loader else ("", None, None)
    except jinja2.TemplateNotFound:
        filename = None
    return filename or name, 0
