"""Tests of ``cramp report``: the numbers shown match the store, no network, safe files."""

from __future__ import annotations

import itertools
import os
import re
import stat
import webbrowser
from datetime import UTC, date, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_helpers import EpisodeSpec, cramp, make_night

from detector.errors import CrampInputError
from detector.pipeline.result import NightResult
from detector.report.summary import format_duration, merge_intervals
from detector.report.svg_parts import bin_max, line_path, nice_ceiling
from detector.store import connect, parse_night_date, save_night

START = datetime(2024, 3, 3, 21, 0, tzinfo=UTC)  # 22:00 in Berlin (CET, UTC+1)


class _Page(HTMLParser):
    """Collect the report's machine-readable values and every URL-bearing attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self.flags: list[tuple[str, str]] = []
        self.rows: list[dict[str, str]] = []
        self._in_flag: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        for k in ("src", "href", "xlink:href", "action", "data", "poster"):
            if k in a:
                self.urls.append(a[k])
        if "data-key" in a:
            self.values.setdefault(a["data-key"], []).append(a.get("data-value", ""))
        if tag == "li" and "data-flag" in a:
            self.flags.append((a["data-flag"], a.get("class", "")))
        if tag == "tr" and "data-onset-utc" in a:
            self.rows.append(a)


def _page(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    return p


def _save(db: Path, result: NightResult, sha_seed: int) -> int:
    return save_night(result, db_path=db, recording_sha256=f"{sha_seed:064x}",
                      timezone="Europe/Berlin")


@pytest.fixture
def one_night(tmp_path: Path) -> tuple[Path, NightResult]:
    db = tmp_path / "e.sqlite3"
    result = make_night(rng=np.random.default_rng(20), start_utc=START)
    _save(db, result, 1)
    return db, result


def test_numbers_in_html_match_the_stored_night(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    # one cramp before the in-bed period (starts at 1800 s), two in bed
    result = make_night(rng=np.random.default_rng(27), start_utc=START, episodes=(
        EpisodeSpec(300.0, 20.0), EpisodeSpec(5400.0, 95.0), EpisodeSpec(9000.0, 40.0)))
    _save(db, result, 1)
    out = tmp_path / "r.html"
    assert cramp(["report", "--db", str(db), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    page = _page(html)
    eps = result.episodes
    in_bed = sum(b - a for a, b in result.in_bed_periods)
    n_in_bed = sum(e.in_bed for e in eps)
    expected = {
        "time_in_bed_s": in_bed,
        "n_episodes": len(eps),
        "total_cramp_s": sum(e.duration_s for e in eps),
        "longest_cramp_s": max(e.duration_s for e in eps),
        "first_onset_utc": min(e.onset_utc for e in eps).timestamp(),
        "cramps_per_hour_in_bed": n_in_bed / (in_bed / 3600),
        "gap_s": 60.0,           # one 60 s gap on all three channels counts once
        "poor_signal_s": 120.0,  # 120 s of flat EMG
        "coverage_fraction": (14400 - 180) / 14400,
    }
    for key, value in expected.items():
        assert len(page.values[key]) == 1, key
        assert float(page.values[key][0]) == pytest.approx(value, rel=1e-5), key
    # the same numbers in words, in Berlin time
    assert n_in_bed == 2
    assert "2 min 35 s" in html   # 20 s + 95 s + 40 s
    assert "1 min 35 s" in html   # longest
    assert "22:05" in html        # first onset 21:05 UTC
    assert "1 outside the time in bed" in html
    assert "Europe/Berlin" in html
    # the episode table lists each stored episode
    assert [float(r["data-duration-s"]) for r in page.rows] == [20.0, 95.0, 40.0]
    assert [datetime.fromisoformat(r["data-onset-utc"]) for r in page.rows] == [
        e.onset_utc for e in eps]
    # one timeline and one close-up per episode, each in a wide and a narrow layout
    assert html.count("<svg") == 2 * (1 + len(eps))
    assert html.count('<div class="wide">') == html.count('<div class="narrow">') == 1 + len(eps)
    assert html.count("Close-up of cramp") == 2 * len(eps)
    # the first screen: the night in one line before anything else, disclaimers once at the end
    head = html.index('id="last-night"')
    assert "3 cramps, longest 1 min 35 s, first at 22:05, left calf" in html[head:head + 400]
    assert head < html.index("When to see a clinician") < html.index("The night at a glance")
    assert html.lower().count("not a diagnosis") == 1
    assert html.index("not a diagnosis") > html.index('id="about"')


def test_report_has_no_external_reference(one_night: tuple[Path, NightResult],
                                          tmp_path: Path) -> None:
    db, _ = one_night
    out = tmp_path / "r.html"
    cramp(["report", "--db", str(db), "--out", str(out)])
    html = out.read_text(encoding="utf-8")
    page = _page(html)
    assert page.urls == [] or all(not re.match(r"\s*(https?:)?//", u) for u in page.urls)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", html)
    assert "http://" not in html and "https://" not in html
    assert not page.tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert "@media print" in html
    body_px = re.search(r"body\s*\{[^}]*font-size:\s*(\d+)px", html)
    assert body_px is not None and int(body_px.group(1)) >= 18


def test_report_file_is_private_named_by_date_and_never_overwritten(
    one_night: tuple[Path, NightResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _ = one_night
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    assert cramp(["report", "--db", str(db)]) == 0
    out = work / "cramp-report-2024-03-03.html"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    out.write_text("old")
    assert cramp(["report", "--db", str(db)]) == 0  # a new name, the old report kept
    second = work / "cramp-report-2024-03-03-2.html"
    assert out.read_text() == "old"
    assert second.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert stat.S_IMODE(second.stat().st_mode) == 0o600
    with pytest.raises(CrampInputError, match="already exists"):
        cramp(["report", "--db", str(db), "--out", str(out)])
    assert out.read_text() == "old"
    cramp(["report", "--db", str(db), "--force"])
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(os.listdir(work)) == ["cramp-report-2024-03-03-2.html",
                                        "cramp-report-2024-03-03.html"]  # no temp left


def test_red_flags_come_first_and_nothing_is_diagnosed(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    rng = np.random.default_rng(21)
    # nights of 1, 2 and 3 March with cramps; on 3 March a 12-minute cramp and both legs
    for day in (1, 2):
        _save(db, make_night(rng=rng, start_utc=START - timedelta(days=3 - day)), day)
    _save(db, make_night(rng=rng, start_utc=START, episodes=(EpisodeSpec(5400.0, 720.0),)), 3)
    _save(db, make_night(rng=rng, start_utc=START + timedelta(minutes=2), leg="right",
                         path="/data/right.edf",
                         episodes=(EpisodeSpec(9000.0, 30.0, leg="right"),)), 4)
    out = tmp_path / "r.html"
    cramp(["report", "--db", str(db), "--night", "2024-03-03", "--out", str(out)])
    html = out.read_text(encoding="utf-8")
    page = _page(html)
    assert [k for k, _ in page.flags] == ["long_cramp", "frequent", "both_legs"]
    assert page.flags[0][1] == "urgent"
    assert "12 min" in html
    assert html.index("When to see a clinician") < html.index("Night of Sunday 3 March 2024,")
    # the two legs' recordings of that night are one night: one section, counts together
    assert html.count('class="night"') == 1
    assert "bands on the left leg and the right leg" in html
    # one table for the night, numbered by time across both recordings; one timeline each
    assert [float(r["data-duration-s"]) for r in page.rows] == [720.0, 30.0]
    wide = re.findall(r'<div class="wide">(<svg.*?</svg>)</div>', html)
    timelines = [w for w in wide if "Timeline of the night" in w]
    assert len(timelines) == 2
    assert re.search(r'fill="#ffffff">1</text>', timelines[0])
    assert re.search(r'fill="#ffffff">2</text>', timelines[1])  # the right leg's cramp
    assert "Possible contributing factors" in html
    assert "No diary-based analysis is available yet" in html
    assert "This is not a diagnosis" in html
    lower = html.lower()
    for word in ("quinine", "magnesium", "supplement", "tablet", "dose", "you suffer",
                 "you have a ", "diagnosed with", "caused by"):
        assert word not in lower, word
    # both recordings of the night are shown
    assert "band on the left leg" in lower and "band on the right leg" in lower


def test_no_flags_when_nothing_is_seen(one_night: tuple[Path, NightResult],
                                       tmp_path: Path) -> None:
    db, _ = one_night
    out = tmp_path / "r.html"
    cramp(["report", "--db", str(db), "--out", str(out)])
    html = out.read_text(encoding="utf-8")
    assert _page(html).flags == []
    assert "None of the warning signs" in html


def test_trends_only_with_two_or_more_nights(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    rng = np.random.default_rng(22)
    _save(db, make_night(rng=rng, start_utc=START), 1)
    single = tmp_path / "one.html"
    cramp(["report", "--db", str(db), "--out", str(single)])
    assert 'id="trends"' not in single.read_text(encoding="utf-8")
    _save(db, make_night(rng=rng, start_utc=START - timedelta(days=10), episodes=()), 2)
    both = tmp_path / "two.html"
    cramp(["report", "--db", str(db), "--out", str(both)])
    html = both.read_text(encoding="utf-8")
    assert 'id="trends"' in html
    assert "2 recorded nights" in html and "cramps on 1 of them" in html


def test_last_n_reports_several_nights(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    rng = np.random.default_rng(23)
    for day in range(3):
        _save(db, make_night(rng=rng, start_utc=START + timedelta(days=day)), day + 1)
    out = tmp_path / "r.html"
    cramp(["report", "--db", str(db), "--last", "2", "--out", str(out)])
    html = out.read_text(encoding="utf-8")
    assert "2 nights, from Monday 4 March 2024 to Tuesday 5 March 2024" in html
    assert html.count('class="night"') == 2
    assert "Sunday 3 March 2024," not in html


def test_text_summary(one_night: tuple[Path, NightResult], tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                      ) -> None:
    db, _ = one_night
    monkeypatch.chdir(tmp_path)
    assert cramp(["report", "--db", str(db), "--text", "--tz", "America/New_York"]) == 0
    text = capsys.readouterr().out
    assert "Number of cramps:" in text and re.search(r"Number of cramps:\s+2\n", text)
    assert re.search(r"Longest cramp:\s+1 min 35 s\n", text)
    assert re.search(r"First cramp began:\s+17:30\n", text)  # 22:30 UTC in New York (EST)
    assert "America/New_York" in text
    assert "This is not a diagnosis" in text
    assert not list(tmp_path.glob("*.html"))  # --text alone writes no file


def test_open_only_when_asked(one_night: tuple[Path, NightResult], tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    db, _ = one_night
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    cramp(["report", "--db", str(db), "--out", str(tmp_path / "a.html")])
    assert opened == []
    cramp(["report", "--db", str(db), "--out", str(tmp_path / "b.html"), "--open"])
    assert opened == [(tmp_path / "b.html").resolve().as_uri()]


@pytest.mark.parametrize(("argv", "match"), [
    (["--night", "2024-03-09"], "no night dated 2024-03-09"),
    (["--night", "03/03/2024"], "YYYY-MM-DD"),
    (["--last", "0"], ">= 1"),
    (["--tz", "Nowhere/Land"], "unknown time zone"),
])
def test_bad_choices_are_one_line_errors(one_night: tuple[Path, NightResult], tmp_path: Path,
                                         argv: list[str], match: str) -> None:
    db, _ = one_night
    with pytest.raises(CrampInputError, match=match) as info:
        cramp(["report", "--db", str(db), "--out", str(tmp_path / "x.html"), *argv])
    assert "\n" not in str(info.value)
    assert not (tmp_path / "x.html").exists()


def test_empty_or_missing_store(tmp_path: Path) -> None:
    with pytest.raises(CrampInputError, match="no nights in this store yet"):
        cramp(["report", "--db", str(tmp_path / "none.sqlite3")])
    connect(tmp_path / "empty.sqlite3").close()
    with pytest.raises(CrampInputError, match="no nights in this store yet"):
        cramp(["report", "--db", str(tmp_path / "empty.sqlite3")])


def test_night_without_trace_still_reports(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    _save(db, make_night(rng=np.random.default_rng(24), start_utc=START), 1)
    conn = connect(db)
    conn.execute("DELETE FROM night_traces")
    conn.close()
    out = tmp_path / "r.html"
    cramp(["report", "--db", str(db), "--out", str(out)])
    html = out.read_text(encoding="utf-8")
    assert "cannot be drawn" in html
    assert float(_page(html).values["n_episodes"][0]) == 2


def test_machine_zone_is_named_when_no_zone_stored(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    save_night(make_night(rng=np.random.default_rng(25), start_utc=START), db_path=db,
               timezone=None)
    out = tmp_path / "r.html"
    cramp(["report", "--db", str(db), "--out", str(out), "--night",
           parse_night_date(_only_date(db)).isoformat()])
    assert "this computer's time zone" in unescape(out.read_text(encoding="utf-8"))
    assert "local time (" not in unescape(out.read_text(encoding="utf-8"))


def _only_date(db: Path) -> str:
    conn = connect(db)
    try:
        return str(conn.execute("SELECT night_date FROM nights").fetchone()[0])
    finally:
        conn.close()


# ---------------------------------------------------------------- units


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (45, "45 s"), (59.6, "1 min"), (120, "2 min"), (125, "2 min 5 s"),
    (3599, "59 min 59 s"), (3600, "1 h"), (7 * 3600 + 45 * 60, "7 h 45 min"),
])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_merge_intervals() -> None:
    assert merge_intervals([(5, 6), (0, 2), (1, 3), (3, 4), (7, 7)]) == [(0, 4), (5, 6)]


def test_bin_max_matches_a_loop_and_ignores_nan() -> None:
    rng = np.random.default_rng(26)
    v = rng.normal(size=1003)
    v[100:400] = np.nan
    got = bin_max(v, 10)
    edges = np.floor(np.arange(11) * (1003 / 10)).astype(int)
    edges[-1] = 1003
    for i in range(10):
        chunk = v[edges[i]:edges[i + 1]]
        finite = chunk[np.isfinite(chunk)]
        if finite.size:
            assert got[i] == finite.max()
        else:
            assert np.isnan(got[i])


def test_line_path_breaks_at_nan_and_nice_ceiling() -> None:
    d = line_path(np.array([0.0, 1.0, 2.0, 3.0]), np.array([5.0, np.nan, 7.0, 8.0]))
    assert d == "M0.0 5.0 M2.0 7.0 L3.0 8.0"
    assert [nice_ceiling(x) for x in (0.7, 3.0, 10.0, 11.0, 240.0)] == [1.0, 5.0, 10.0, 20.0,
                                                                        250.0]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=14))
def test_parse_night_date_fuzz(text: str) -> None:
    try:
        d = parse_night_date(text)
    except CrampInputError as exc:
        assert str(exc).startswith("--night: ")
    else:
        assert d.isoformat() == text.strip()


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)))
def test_parse_night_date_round_trip(d: date) -> None:
    assert parse_night_date(d.isoformat()) == d


@pytest.mark.parametrize(("span_s", "zone", "step_min", "minor"), [
    (600, "UTC", 1, False),             # a 10-minute recording still gets clock ticks
    (3600, "Europe/Berlin", 5, False),
    (8 * 3600, "Europe/Berlin", 60, True),
    (8 * 3600, "Asia/Kolkata", 60, True),  # +05:30: ticks on whole local hours
])
def test_time_ticks_fall_on_whole_local_clock_steps(span_s: int, zone: str, step_min: int,
                                                    minor: bool) -> None:
    from zoneinfo import ZoneInfo

    from detector.report.svg_parts import WIDE, time_ticks

    tz = ZoneInfo(zone)
    start = datetime(2024, 3, 3, 21, 7, 30, tzinfo=UTC)
    major, minors = time_ticks(start, float(span_s), tz, max_ticks=WIDE.max_time_ticks)
    assert 4 <= len(major) <= WIDE.max_time_ticks
    for offset, label in major:
        here = (start + timedelta(seconds=offset)).astimezone(tz)
        assert 0 <= offset <= span_s and here.second == 0
        assert (here.hour * 60 + here.minute) % step_min == 0
        assert label == here.strftime("%H:%M")
    steps = {b[0] - a[0] for a, b in itertools.pairwise(major)}
    assert steps == {60.0 * step_min}
    assert bool(minors) == minor
    if minor:
        assert all(((start + timedelta(seconds=o)).astimezone(tz).minute % 15) == 0
                   for o in minors)


def test_foot_angle_scale_is_the_same_on_every_night(tmp_path: Path) -> None:
    from detector.report.svg import ANGLE_RANGE_DEG
    from detector.report.svg_parts import WIDE, nice_ticks

    db = tmp_path / "e.sqlite3"
    rng = np.random.default_rng(9)
    _save(db, make_night(rng=rng, start_utc=START, episodes=(
        EpisodeSpec(5400.0, 95.0, plantar_flexion_deg=80.0),)), 1)
    _save(db, make_night(rng=rng, start_utc=START - timedelta(days=1), episodes=(
        EpisodeSpec(5400.0, 95.0, plantar_flexion_deg=12.0),)), 2)
    out = tmp_path / "r.html"
    cramp(["report", "--db", str(db), "--last", "2", "--out", str(out)])
    html = out.read_text(encoding="utf-8")
    wide = re.findall(r'<div class="wide">(<svg.*?</svg>)</div>', html)
    timelines = [w for w in wide if "Timeline of the night" in w]
    assert len(timelines) == 2
    labels = [re.findall(r">(-?\d+)</text>", t) for t in timelines]
    lo, hi = ANGLE_RANGE_DEG
    for found in labels:  # both nights show the same foot-angle ticks, -20 to 60
        assert {"-20", "0", "20", "40", "60"} <= set(found)
    assert nice_ticks(lo, hi) == [-20.0, 0.0, 20.0, 40.0, 60.0]
    assert nice_ticks(0.0, 2.0, whole=True) == [0.0, 1.0, 2.0]
    assert WIDE.plot_w > 800


def test_hour_histogram_counts_cramps_by_local_hour() -> None:
    from zoneinfo import ZoneInfo

    from detector.report.summary import trends_of
    from detector.report.svg import NIGHT_HOURS, hour_histogram_svg
    from detector.report.svg_parts import EPISODE_FILL
    from detector.store.nights import StoredNight

    berlin = ZoneInfo("Europe/Berlin")
    rng = np.random.default_rng(4)
    # START is 22:00 in Berlin: cramps at 23:30, 23:45 and 02:10 local; one at 14:00 next day
    result = make_night(rng=rng, start_utc=START, duration_s=18 * 3600, episodes=(
        EpisodeSpec(5400.0, 30.0), EpisodeSpec(6300.0, 30.0), EpisodeSpec(15000.0, 30.0),
        EpisodeSpec(57600.0, 30.0)))
    night = StoredNight(
        night_id=1, night_date=date(2024, 3, 3), timezone="Europe/Berlin",
        recording_path="x", recording_sha256=None, file_format="edf",
        start_utc=START, duration_s=result.info.duration_s, leg="left", channels={},
        mode="emg+acc", in_bed_periods=(), episodes=result.episodes, gaps=(),
        quality_periods=(), quality={}, coverage_fraction=None, detector_version="x",
        parameters={}, trace=None)
    trends = trends_of([night], first=date(2024, 2, 1), last=date(2024, 3, 3), local=berlin)
    assert sorted(round(h, 2) for h in trends.onset_hours) == [2.17, 14.0, 23.5, 23.75]
    assert trends.first == date(2024, 2, 26)  # a week up to the night, not eight empty weeks
    svg = hour_histogram_svg(trends.onset_hours, uid="h")
    bars = re.findall(rf'<rect x="([\d.]+)" y="[\d.]+" width="[\d.]+" height="([\d.]+)" '
                      rf'fill="{EPISODE_FILL}"', svg)
    assert len(bars) == 2  # the 23:00 hour (two cramps) and the 02:00 hour
    heights = sorted(float(h) for _, h in bars)
    assert heights[1] == pytest.approx(2 * heights[0])
    assert "1 more began between 12:00 and 18:00" in svg
    assert NIGHT_HOURS.index(23) < NIGHT_HOURS.index(2)
