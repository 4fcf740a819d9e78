"""The shared 20 ms clock: one timer for all members, absolute deadlines."""

from __future__ import annotations

import asyncio

from callvault.engine.pacer import FRAME_S, Pacer


class _Member:
    def __init__(self, limit: int) -> None:
        self.times: list[float] = []
        self.limit = limit
        self.pacer: Pacer | None = None

    def on_tick(self, now: float) -> None:
        self.times.append(now)
        if len(self.times) >= self.limit and self.pacer is not None:
            self.pacer.discard(self)


async def test_members_share_ticks_and_clock_idles_when_empty() -> None:
    pacer = Pacer()
    members = [_Member(10 + i) for i in range(3)]
    for member in members:
        member.pacer = pacer
        pacer.add(member)
    await asyncio.sleep(FRAME_S * 20)
    assert [len(m.times) for m in members] == [10, 11, 12]
    # every member saw the same tick times (one clock, not a timer each)
    assert members[0].times == members[1].times[:10] == members[2].times[:10]
    assert len(pacer) == 0
    ticks = pacer.ticks
    await asyncio.sleep(FRAME_S * 5)
    assert pacer.ticks == ticks, "the clock must stop when no member is left"


async def test_ticks_follow_absolute_deadlines() -> None:
    pacer = Pacer()
    member = _Member(26)
    member.pacer = pacer
    pacer.add(member)
    await asyncio.sleep(FRAME_S * 30)
    span = member.times[-1] - member.times[0]
    # 25 intervals of 20 ms; drift-free scheduling keeps the total within one frame
    assert abs(span - 25 * FRAME_S) < FRAME_S


async def test_failing_member_is_removed_and_others_continue() -> None:
    pacer = Pacer()

    class _Broken:
        def on_tick(self, now: float) -> None:
            raise RuntimeError("boom")

    good = _Member(5)
    good.pacer = pacer
    pacer.add(_Broken())
    pacer.add(good)
    await asyncio.sleep(FRAME_S * 10)
    assert len(good.times) == 5
    assert len(pacer) == 0
