"""Driving the app on a fake link in pilot tests: start it, wait (bounded) for it to draw."""

from __future__ import annotations

import asyncio

from netscope.ui.app import NetscopeApp

from .fake_link import FakeLink, scenario


def run(test, link: FakeLink | None = None, size=(120, 40), **app_args) -> NetscopeApp:
    """Run `test(pilot, app)` against an app on `link`, once its first snapshots are drawn."""
    app = NetscopeApp(link or scenario(), **app_args)

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await test(pilot, app)

    asyncio.run(main())
    return app


async def settle(pilot) -> None:
    """Let the poll timer drain the link and the screen draw what it got (bounded wait)."""
    app = pilot.app
    for _ in range(100):
        await pilot.pause(0.05)
        if not app.link.queue and (app.frozen or app.error or app.shown is app.snapshot):
            break
    await pilot.pause()
