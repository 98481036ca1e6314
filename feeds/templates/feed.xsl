<?xml version="1.0" encoding="UTF-8"?>
<!--
  feed.xsl: shows an RSS 2.0 or Atom 1.0 feed written by feeds as a readable page,
  with a note on how to subscribe. Browsers apply it when the feed is served as
  text/xml or application/xml. No scripts, no external assets.
  Override it with feed.xsl in the `templates` folder of feeds.yaml.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:a="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="a dc">
  <xsl:output method="html" encoding="UTF-8" indent="no" doctype-system="about:legacy-compat"/>

  <xsl:template match="/">
    <xsl:variable name="title" select="rss/channel/title | a:feed/a:title"/>
    <xsl:variable name="description" select="rss/channel/description | a:feed/a:subtitle"/>
    <xsl:variable name="self" select="rss/channel/a:link[@rel='self']/@href | a:feed/a:link[@rel='self']/@href"/>
    <xsl:variable name="home" select="rss/channel/link | a:feed/a:link[@rel='alternate']/@href"/>
    <xsl:variable name="items" select="rss/channel/item | a:feed/a:entry"/>
    <html lang="{rss/channel/language | a:feed/@xml:lang}">
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:apply-templates select="$title" mode="text"/> (web feed)</title>
        <style>
:root { color-scheme: light dark; --muted: #5b6470; --line: #d8dde3; --accent: #0b57d0; --box: #eef3fd; }
@media (prefers-color-scheme: dark) { :root { --muted: #a4adb8; --line: #3a4048; --accent: #8ab4f8; --box: #1d2633; } }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 48rem; padding: 1rem; }
a { color: var(--accent); }
.kind, .meta, header p { color: var(--muted); }
.kind { text-transform: uppercase; letter-spacing: .05em; font-size: .8rem; margin: 0; }
h1 { margin: .2rem 0; }
.subscribe { background: var(--box); border: 1px solid var(--line); border-radius: .5rem; padding: .2rem 1rem; margin: 1rem 0 2rem; }
.subscribe h2 { font-size: 1.1rem; }
.url { display: block; padding: .4rem .6rem; border: 1px solid var(--line); border-radius: .3rem; overflow-wrap: anywhere; user-select: all; }
article { border-bottom: 1px solid var(--line); padding: .2rem 0 .8rem; }
article h3 { margin: .6rem 0 .2rem; font-size: 1.1rem; }
article p { margin: .2rem 0; }
        </style>
      </head>
      <body>
        <header>
          <p class="kind">Web feed · <xsl:choose><xsl:when test="rss">RSS 2.0</xsl:when><xsl:otherwise>Atom</xsl:otherwise></xsl:choose></p>
          <h1><xsl:apply-templates select="$title" mode="text"/></h1>
          <p><xsl:apply-templates select="$description" mode="text"/></p>
        </header>
        <section class="subscribe" aria-labelledby="subscribe-heading">
          <h2 id="subscribe-heading">How to subscribe</h2>
          <p>This page is a web feed. To get new articles as they are published, copy its address into your feed reader (NetNewsWire, Feedly, Miniflux, Thunderbird and others):</p>
          <p><code class="url"><xsl:value-of select="$self"/></code></p>
          <p><a href="{$home}">Every feed of this site</a>, with an OPML list to subscribe to all of them at once.</p>
        </section>
        <main>
          <h2>Newest articles (<xsl:value-of select="count($items)"/>)</h2>
          <xsl:apply-templates select="$items"/>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="item">
    <article>
      <h3><a href="{link}"><xsl:value-of select="title"/></a></h3>
      <p class="meta">
        <xsl:value-of select="substring(pubDate, 1, 22)"/>
        <xsl:if test="dc:creator"> · <xsl:value-of select="dc:creator"/></xsl:if>
      </p>
      <p>
        <!-- RSS descriptions are escaped HTML: show the text, never interpret it. -->
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="description"/>
        </xsl:call-template>
      </p>
    </article>
  </xsl:template>

  <xsl:template match="a:entry">
    <article>
      <h3><a href="{a:link[@rel='alternate' or not(@rel)][1]/@href}"><xsl:apply-templates select="a:title" mode="text"/></a></h3>
      <p class="meta">
        <time datetime="{a:published}"><xsl:value-of select="translate(substring(a:published, 1, 16), 'T', ' ')"/></time>
        <xsl:if test="a:author/a:name"> · <xsl:value-of select="a:author/a:name"/></xsl:if>
      </p>
      <p><xsl:apply-templates select="a:summary" mode="text"/></p>
    </article>
  </xsl:template>

  <!-- An Atom text construct as plain text. Escaped HTML (type="html") shows its text
       once and is never interpreted (no disable-output-escaping, which is unsafe and
       which Firefox ignores): its tags dropped, then its entities undone. -->
  <xsl:template match="*" mode="text">
    <xsl:choose>
      <xsl:when test="@type = 'html'">
        <xsl:call-template name="unescape">
          <xsl:with-param name="text">
            <xsl:call-template name="strip-tags">
              <xsl:with-param name="text" select="."/>
            </xsl:call-template>
          </xsl:with-param>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="."/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- The HTML source without its tags (a literal < in HTML text is &lt;, not <). -->
  <xsl:template name="strip-tags">
    <xsl:param name="text"/>
    <xsl:choose>
      <xsl:when test="contains($text, '&lt;')">
        <xsl:value-of select="substring-before($text, '&lt;')"/>
        <xsl:call-template name="strip-tags">
          <xsl:with-param name="text" select="substring-after(substring-after($text, '&lt;'), '&gt;')"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- Undo html.escape(quote=False): &lt; &gt; then &amp; (last), as plain text. -->
  <xsl:template name="unescape">
    <xsl:param name="text"/>
    <xsl:call-template name="replace">
      <xsl:with-param name="from" select="'&amp;amp;'"/>
      <xsl:with-param name="to" select="'&amp;'"/>
      <xsl:with-param name="text">
        <xsl:call-template name="replace">
          <xsl:with-param name="from" select="'&amp;gt;'"/>
          <xsl:with-param name="to" select="'&gt;'"/>
          <xsl:with-param name="text">
            <xsl:call-template name="replace">
              <xsl:with-param name="from" select="'&amp;lt;'"/>
              <xsl:with-param name="to" select="'&lt;'"/>
              <xsl:with-param name="text" select="$text"/>
            </xsl:call-template>
          </xsl:with-param>
        </xsl:call-template>
      </xsl:with-param>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="replace">
    <xsl:param name="text"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($text, $from)">
        <xsl:value-of select="substring-before($text, $from)"/>
        <xsl:value-of select="$to"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="text" select="substring-after($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
