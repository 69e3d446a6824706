"""The HTML page that holds the browser terminal (textual-serve's page, adapted).

Differences from textual-serve's own template, each for a measured problem:
- the Roboto Mono font comes from the files textual-serve ships, not from Google
  Fonts (offline, the dropped request delayed start-up);
- every URL is relative to the page, and the websocket URL is built in the browser
  from ``location`` (ws: or wss:, same host, same path prefix), so the page works
  behind a reverse proxy, under a sub-path and with ``--host 0.0.0.0`` (where
  textual-serve told the browser to connect to ``ws://0.0.0.0:PORT``);
- the terminal takes the keyboard focus once it exists, so keys work without a
  first click (which the app would also have received as a mouse click).
"""

from __future__ import annotations

import html
import json

FONT_FILE = "static/fonts/RobotoMono-VariableFont_wght.ttf"

_PAGE = """<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{title}</title>
    <link rel="preload" href="{font}" as="font" type="font/ttf" crossorigin>
    <link rel="stylesheet" href="static/css/xterm.css">
    <style>
      @font-face {{
        font-family: "Roboto Mono";
        src: url("{font}") format("truetype");
        font-weight: 100 700;
      }}
      html, body {{ margin: 0; height: 100%; background: #0c181f; }}
      #terminal {{ position: absolute; inset: 0; }}
      .notice {{
        position: absolute; inset: 0; display: flex; align-items: center;
        justify-content: center; z-index: 10; font: 16px "Roboto Mono", monospace;
        color: rgba(255, 255, 255, 0.9); background: #0c181f;
      }}
      .notice button {{
        margin-left: 16px; padding: 8px 24px; border: none; color: white;
        background: #5e0ba7; font: inherit; cursor: pointer;
      }}
      body.-first-byte #starting {{ display: none; }}
      #ended {{ display: none; }}
      body.-closed #ended {{ display: flex; }}
      body .textual-terminal {{ opacity: 0; }}
      body.-first-byte .textual-terminal {{ opacity: 1; }}
    </style>
    <script src="static/js/textual.js"></script>
  </head>
  <body>
    <div id="starting" class="notice">Starting {title}&hellip;</div>
    <div id="ended" class="notice">Session ended.
      <button type="button" onclick="window.location.reload()">Reload</button></div>
    <div id="terminal" class="textual-terminal" data-font-size="{font_size}"></div>
    <script>
      (function () {{
        const terminal = document.getElementById("terminal");
        const explicit = {ws_url};
        if (explicit) {{
          terminal.dataset.sessionWebsocketUrl = explicit;
        }} else {{
          const url = new URL("ws", window.location.href);
          url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
          url.search = "";
          url.hash = "";
          terminal.dataset.sessionWebsocketUrl = url.href;
        }}
        // textual.js builds the terminal in window.onload (set before this
        // listener): then give it the keyboard.
        window.addEventListener("load", function () {{
          const focus = function () {{
            const input = document.querySelector(".xterm-helper-textarea");
            if (input) {{ input.focus(); }}
            return Boolean(input);
          }};
          if (!focus()) {{
            const timer = setInterval(function () {{ if (focus()) clearInterval(timer); }}, 50);
          }}
        }});
      }})();
    </script>
  </body>
</html>
"""


def render_page(title: str, font_size: int = 16, ws_url: str | None = None) -> str:
    """The page; ``ws_url`` is an absolute websocket URL (from ``--public-url``) or
    None to derive it in the browser."""
    return _PAGE.format(
        title=html.escape(title),
        font=FONT_FILE,
        font_size=int(font_size),
        # JSON is valid JavaScript; escaping "<" keeps "</script>" out of it.
        ws_url=json.dumps(ws_url).replace("<", "\\u003c"),
    )
