"""Screenshots of the main, detail and help screens on the fake link (pytest-textual-snapshot).

Update after a deliberate visual change with `pytest tests/ui/test_snapshots.py --snapshot-update`
and look at the SVGs under __snapshots__ before committing them.
"""

from __future__ import annotations

from netscope.ui.app import NetscopeApp

from .fake_link import scenario


async def _drawn(pilot) -> None:
    """Wait (bounded) until the app has drawn everything the fake link queued, then a frame."""
    app = pilot.app
    for _ in range(100):
        await pilot.pause(0.05)
        if not app.link.queue and app.shown is app.snapshot and app.snapshot is not None:
            break
    await pilot.pause()


def test_main_screen(snap_compare):
    assert snap_compare(NetscopeApp(scenario()), terminal_size=(110, 32), run_before=_drawn)


def test_main_screen_at_80x24(snap_compare):
    assert snap_compare(NetscopeApp(scenario()), terminal_size=(80, 24), run_before=_drawn)


def test_detail_screen(snap_compare):
    async def open_detail(pilot) -> None:
        await _drawn(pilot)
        await pilot.press("enter")
        await _drawn(pilot)

    assert snap_compare(NetscopeApp(scenario()), terminal_size=(110, 36), run_before=open_detail)


def test_help_screen(snap_compare):
    async def open_help(pilot) -> None:
        await _drawn(pilot)
        await pilot.press("question_mark")
        await _drawn(pilot)

    assert snap_compare(NetscopeApp(scenario()), terminal_size=(110, 32), run_before=open_help)


def test_main_screen_with_names(snap_compare):
    async def show_names(pilot) -> None:
        await _drawn(pilot)
        await pilot.press("n")
        await _drawn(pilot)

    assert snap_compare(NetscopeApp(scenario()), terminal_size=(130, 32), run_before=show_names)
