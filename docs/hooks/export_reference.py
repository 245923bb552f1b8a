def on_page_markdown(markdown, **kw): return markdown
