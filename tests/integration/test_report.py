"""The report on a demo store: it renders offline, has every section, and says what the JSON
export says (every number on the page is tagged with the figure it shows)."""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from makegood.entrypoints import cli_report
from makegood.entrypoints.demo.driver import run_demo
from makegood.entrypoints.demo.simulator import SimulationSettings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SECTIONS = (
    "overview",
    "failures",
    "hot-spots",
    "speed",
    "funnel",
    "satisfaction",
    "spend",
    "paradox",
    "experiments",
)
FIGURE = re.compile(r'<span data-figure="([^"]+)" data-value="([^"]*)">')


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("report")(cli_report.report)
    app.command("replay")(cli_report.replay)
    return app


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    result = run_demo(path, SimulationSettings(customers=300, orders=2000))
    result.app.store.dispose()
    return path


@pytest.fixture(scope="module")
def rendered(demo_db: Path) -> tuple[str, dict[str, Any]]:
    page = demo_db.with_suffix(".html")
    runner = CliRunner()
    done = runner.invoke(cli(), ["report", "--db", str(demo_db), "--out", str(page), "-q"])
    assert done.exit_code == 0, done.output
    exported = runner.invoke(cli(), ["report", "--db", str(demo_db), "--format", "json"])
    assert exported.exit_code == 0, exported.output
    return page.read_text(encoding="utf-8"), json.loads(exported.output)


def lookup(figures: Any, path: str) -> Any:
    for part in path.split("."):
        figures = figures[int(part)] if isinstance(figures, list) else figures[part]
    return figures


def test_report_has_every_section_and_opens_offline(rendered: tuple[str, dict[str, Any]]) -> None:
    page, _ = rendered
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    assert "<svg" in page and "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from anywhere


def test_every_figure_on_the_page_equals_the_json_export(
    rendered: tuple[str, dict[str, Any]],
) -> None:
    page, figures = rendered
    shown = FIGURE.findall(page)
    assert len(shown) > 100
    for path, value in shown:
        assert json.loads(unescape(value)) == lookup(figures, path), path
    paths = {path for path, _ in shown}
    for needed in (
        "period.failures",
        "spend.granted",
        "timings_s.detect.p50",
        "satisfaction.csat.satisfied.share",
        "paradox.groups.recovered.n",
        "funnel.stages.1.count",
    ):
        assert needed in paths


def test_demo_figures_are_consistent(rendered: tuple[str, dict[str, Any]]) -> None:
    _, f = rendered
    assert f["period"]["failures"] > 0 and f["funnel"]["stages"][0]["count"] == f["period"]["cases"]
    groups = f["paradox"]["groups"]
    assert (
        groups["recovered"]["n"] + groups["not_recovered"]["n"] == f["period"]["customers_failed"]
    )
    assert sum(r["count"] for r in f["pareto"]["category"]["rows"]) <= f["period"]["failures"]


def test_csv_lists_the_same_figures(demo_db: Path, rendered: tuple[str, dict[str, Any]]) -> None:
    _, figures = rendered
    out = CliRunner().invoke(cli(), ["report", "--db", str(demo_db), "--format", "csv"])
    assert out.exit_code == 0
    rows = dict(line.split(",", 1) for line in out.output.splitlines()[1:] if "," in line)
    assert rows["period.failures"] == str(figures["period"]["failures"])
    assert rows["spend.granted"] == figures["spend"]["granted"]


@pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="no Chromium at /usr/bin/chromium (apt-get install -y chromium)",
)
def test_screenshot_in_headless_chromium(
    demo_db: Path, rendered: tuple[str, dict[str, Any]]
) -> None:
    """Writes artifacts/report.png (git-ignored); the page asks nothing of the network."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(demo_db.with_suffix(".html").as_uri())
        assert page.locator("section#paradox h2").is_visible()
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert all(url.startswith("file:") for url in requests), requests
    assert shot.stat().st_size > 20_000
