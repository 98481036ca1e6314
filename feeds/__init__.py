"""feeds: publish RSS 2.0, Atom 1.0 and JSON Feed 1.1 per topic and per provider.

The pipeline, one module per stage::

    config.load_config      feeds.yaml          -> Config
    collect.collect         content/*.md        -> Collection (articles + problems)
    group.group_articles    articles, now       -> tuple[Feed, ...]
    render.render_stream    feeds, config       -> paths, stream of (path, bytes)
    write.write_output      stream of files     -> WriteReport

``build.build`` runs them in order, under ``lock.output_lock`` and with ``cache.Cache``
(which answers for what did not change since the last run); ``cli.main`` is the command
line on top.
"""

__version__ = "0.1.0"
