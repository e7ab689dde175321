"""The HTML disclosure as a person reads it: rendered by headless Chromium, then checked on the DOM
the browser built (landmarks, the order of headings, captions, ``lang``, the contents' links) and on
its layout (nothing wider than a phone's screen but the scrollable tables).

The screenshots in docs/ (one per language, for the README) are taken here too: regenerate them with
``ZOOMFORCE_UPDATE_GOLDEN=1 pytest tests/test_disclosure_html.py``. CI installs Chromium (.ci/run);
elsewhere the tests skip, saying why, when there is none (with ``ZOOMFORCE_REQUIRE_CHROMIUM=1``, as in
CI, they fail instead).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engine.disclosure.build import build_disclosure
from engine.disclosure.inputs import load_inputs
from engine.disclosure.render import long_date, render
from tests.helpers import MAPPINGS, REPO

CHROMIUM = next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))),
                None)
UPDATE = os.environ.get("ZOOMFORCE_UPDATE_GOLDEN") == "1"
SCREENSHOT = REPO / "docs" / "disclosure.{language}.png"
SCREENSHOT_SIZE = (1100, 1500)
REQUIRED = os.environ.get("ZOOMFORCE_REQUIRE_CHROMIUM") == "1"  # set by .ci/run: there, a missing browser fails
needs_chromium = pytest.mark.skipif(CHROMIUM is None and not REQUIRED,
                                    reason="no chromium on PATH (CI installs it: .ci/run)")

# Run by the browser after layout: what overflows a phone's screen, outside the scrollable tables.
LAYOUT_PROBE = """
<script>
addEventListener("load", () => {
  const wide = [...document.querySelectorAll("body *")].filter(e =>
    !e.closest(".table-wrap") && e.getBoundingClientRect().right > document.documentElement.clientWidth + 1);
  document.body.dataset.overflowing = wide.map(e => e.tagName.toLowerCase()).join(" ") || "none";
});
</script>
"""


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None, "ZOOMFORCE_REQUIRE_CHROMIUM is set but there is no chromium on PATH"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def _page(tmp_path: Path, language: str, probe: bool = False) -> Path:
    inputs = load_inputs(MAPPINGS)
    html = render(build_disclosure(inputs.mapping_set, language, inputs.facts), "html")
    if probe:
        html = html.replace("</body>", LAYOUT_PROBE + "</body>")
    page = tmp_path / f"disclosure.{language}.html"
    page.write_text(html, encoding="utf-8")
    return page


class _Dom(HTMLParser):
    """What the tests look at in the DOM Chromium dumps."""

    def __init__(self) -> None:
        super().__init__()
        self.lang = ""
        self.tags: list[str] = []
        self.headings: list[tuple[str, str]] = []  # (tag, text)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.tables = 0
        self.captions = 0
        self.body: dict[str, str | None] = {}
        self.version = ""  # the text of the header's version line
        self._in_version = False
        self._heading: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.lang = values.get("lang") or ""
        if tag == "body":
            self.body = values
        if values.get("id"):
            self.ids.add(values["id"] or "")
        if tag == "a" and (values.get("href") or "").startswith("#"):
            self.links.append((values["href"] or "")[1:])
        self.tables += tag == "table"
        self.captions += tag == "caption"
        if tag in ("h1", "h2", "h3"):
            self._heading, self._text = tag, ""
        self._in_version = tag == "p" and values.get("class") == "version" and "main" not in self.tags

    def handle_data(self, data: str) -> None:
        if self._heading:
            self._text += data
        if self._in_version:
            self.version += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._in_version = False
        if tag == self._heading:
            self.headings.append((tag, " ".join(self._text.split())))
            self._heading = None


def _dom(tmp_path: Path, page: Path, width: int = 1200) -> _Dom:
    done = _chromium(f"--window-size={width},900", "--virtual-time-budget=3000", "--dump-dom", page.as_uri(),
                     profile=tmp_path / f"profile-{width}")
    dom = _Dom()
    dom.feed(done.stdout)
    return dom


@needs_chromium
@pytest.mark.parametrize("language", ["en", "fr"])
def test_chromium_renders_landmarks_headings_in_order_and_captions(tmp_path: Path, language: str) -> None:
    inputs = load_inputs(MAPPINGS)
    disclosure = build_disclosure(inputs.mapping_set, language, inputs.facts)
    m = disclosure.messages
    dom = _dom(tmp_path, _page(tmp_path, language))
    assert dom.lang == language
    for landmark in ("header", "nav", "main", "footer"):
        assert dom.tags.count(landmark) == 1, landmark
    assert dom.headings[0] == ("h1", m["document_title"])
    parts = [text for tag, text in dom.headings if tag == "h2"]
    assert parts == [m["contents"], m["responsibility_part"], m["how_used"], m["recipients_part"],
                     m["transfers_part"], m["permissions"], m["appendix"]]
    sections = [text for tag, text in dom.headings if tag == "h3"]
    titles = [s.title for s in disclosure.sections]
    assert sections[:len(titles)] == titles  # every section has its heading, in document order
    assert sections[-len(titles):] == titles  # and again in the appendix
    assert dom.tables == dom.captions and dom.tables > len(titles)
    assert dom.links and set(dom.links) <= dom.ids  # every entry of the contents leads somewhere
    facts = disclosure.facts
    assert facts is not None  # the version and its date stand at the top
    assert dom.version == m["version_line"].format(version=facts.version, date=long_date(facts.effective_date, m))


@needs_chromium
@pytest.mark.parametrize("width", [375, 1200])
def test_nothing_but_the_tables_is_wider_than_the_screen(tmp_path: Path, width: int) -> None:
    dom = _dom(tmp_path, _page(tmp_path, "fr", probe=True), width)
    assert dom.body.get("data-overflowing") == "none", dom.body


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_readme_has_a_screenshot_per_language(tmp_path: Path, language: str) -> None:
    target = Path(str(SCREENSHOT).format(language=language))
    if UPDATE:
        if CHROMIUM is None:
            pytest.skip("no chromium on PATH to take the screenshot with")
        width, height = SCREENSHOT_SIZE
        _chromium(f"--window-size={width},{height}", "--hide-scrollbars", f"--screenshot={target}",
                  _page(tmp_path, language).as_uri(), profile=tmp_path / "profile")
    assert _png_size(target) == SCREENSHOT_SIZE
    assert target.name in (REPO / "README.md").read_text(encoding="utf-8")
