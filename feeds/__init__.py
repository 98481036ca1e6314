"""feeds: publish RSS 2.0, Atom 1.0 and JSON Feed 1.1 per topic and per provider.

The pipeline, one module per stage::

    config.load_config      feeds.yaml              -> Config
    sources.scan            content/                -> Scan (sources and their stamps)
    collect.read_source     one file                -> FileResult (article + problems)
    group.Selector          every article's Brief   -> Site (feeds naming their members)
    update.reselect         changed files' briefs   -> the last choice's groups, updated
    archive.Histories       every Brief, feed counts -> Site with archive documents
    reuse.reusable          feeds to render, files   -> entries of unchanged articles
    render.render_stream    feeds, member entries   -> paths, stream of (path, bytes)
    write.write_output      stream of files         -> WriteReport

``build.build`` runs them in two passes: every changed file is read for its
:class:`~feeds.model.Brief` (the rest come from ``cache.Cache``), the feeds are chosen
from the briefs, and only the articles of the feeds to render are read again and rendered
(``parallel.Workers`` spreads both passes over worker processes). With archives on, the
subscription feeds are rendered first: how many items each writes under the size cap
decides what its archives hold. ``cli.main`` is the
command line on top, and after a writing build tells the WebSub hubs which feeds it
rewrote (``websub.after_build``, from the build's ``WriteReport``).
"""

__version__ = "0.1.0"  # before the imports below: modules they import read it

from feeds.build import BuildOptions, BuildResult, build
from feeds.config import Config, load_config
from feeds.errors import FeedsError, Problem

__all__ = [
    "BuildOptions",
    "BuildResult",
    "Config",
    "FeedsError",
    "Problem",
    "__version__",
    "build",
    "load_config",
]
