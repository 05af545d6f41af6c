"""The Markdown and HTML templates of the evidence pack (kept as text in the package, so an
installed gate needs no data files). The HTML is one self-contained file: inline CSS, no
scripts, no external assets."""

MARKDOWN = """\
# {{ title }}

{% for label, value in header %}
- **{{ label }}**: {{ value }}
{% endfor %}
{% for section in sections %}

## {{ section.title }}
{% for block in section.blocks %}

{% if block.kind == "facts" %}
{% for label, value in block.items %}
- **{{ label }}**: {{ value }}
{% endfor %}
{% elif block.kind == "table" %}
{{ block.columns | row }}
|{% for _ in block.columns %} --- |{% endfor %}

{% for row in block.rows %}
{{ row | row }}
{% endfor %}
{% elif block.kind == "note" %}
{{ block.text }}
{% elif block.kind == "quote" %}
**{{ block.title }}**

```text
{{ block.text }}
```
{% endif %}
{% endfor %}
{% endfor %}

---
The pack's digest is on the next line: sha256 over every byte above it.
"""

HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 80em; padding: 0 1em; color: #1b1f24; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 2em; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dt { font-weight: 600; } dd { margin: 0; word-break: break-all; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { border: 1px solid #d0d7de; padding: .25em .5em; text-align: left; vertical-align: top; word-break: break-word; }
th { background: #f6f8fa; }
pre { background: #f6f8fa; padding: .6em; white-space: pre-wrap; }
footer { margin-top: 3em; color: #57606a; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<dl>
{% for label, value in header %}
<dt>{{ label }}</dt><dd>{{ value }}</dd>
{% endfor %}
</dl>
{% for section in sections %}
<section>
<h2>{{ section.title }}</h2>
{% for block in section.blocks %}
{% if block.kind == "facts" %}
<dl>
{% for label, value in block.items %}
<dt>{{ label }}</dt><dd>{{ value }}</dd>
{% endfor %}
</dl>
{% elif block.kind == "table" %}
<table>
<tr>{% for column in block.columns %}<th>{{ column }}</th>{% endfor %}</tr>
{% for row in block.rows %}
<tr>{{ row | row }}</tr>
{% endfor %}
</table>
{% elif block.kind == "note" %}
<p>{{ block.text }}</p>
{% elif block.kind == "quote" %}
<h3>{{ block.title }}</h3>
<pre>{{ block.text }}</pre>
{% endif %}
{% endfor %}
</section>
{% endfor %}
<footer>The pack's digest is on the last line of this file (an HTML comment): sha256 over every byte above it.</footer>
</body>
</html>
"""
