"""The slideshow state machine, without pygame: timing, order policies, commands, schedule, live changes, resume."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import pytest

from installation.gallery.config import GalleryConfig, GalleryError
from installation.gallery.order import PieceInfo
from installation.gallery.slideshow import MANUAL_TRANSITION, Slideshow, ken_burns_view, smoothstep


def test_nothing_is_shown_before_it_is_decoded(sim):
    show = Slideshow(GalleryConfig(seed=0))
    show.set_pieces(sim.pieces(3))
    frames = sim.drive(show, 5.0)
    assert all(f.current is None and f.incoming is None for f in frames)
    assert frames[-1].wanted, "it asks for the first piece to be decoded"
    first = frames[-1].wanted[0]
    show.set_ready([first])
    show.tick(0.1)
    frame = show.tick(0.1)
    assert frame.current is None and frame.incoming == first and 0 < frame.alpha < 1  # fades in from black


def test_hold_and_crossfade_timing(sim):
    show = sim.ready_show(sim.pieces(3), hold=10.0, crossfade=2.0)
    frames = sim.drive(show, 2.0 + 10.0 + 2.0 + 1.0, dt=0.01)
    first_current = next(i for i, f in enumerate(frames) if f.current is not None)
    assert first_current * 0.01 == pytest.approx(2.0, abs=0.02)  # the fade-in takes the crossfade time
    fading = [i for i, f in enumerate(frames) if f.current is not None and f.incoming is not None]
    start, end = fading[0] * 0.01, fading[-1] * 0.01
    assert start == pytest.approx(2.0 + 10.0, abs=0.03)  # hold 10 s after the fade-in
    assert end - start == pytest.approx(2.0, abs=0.03)
    mid = frames[(fading[0] + fading[-1]) // 2]
    assert mid.alpha == pytest.approx(0.5, abs=0.02)  # eased: half way is half way
    assert frames[fading[0]].alpha < 0.01 and frames[fading[-1]].alpha > 0.99
    assert all(f.moving for f in frames if f.incoming is not None)
    assert not any(f.moving for f in frames[first_current + 5: fading[0]])  # a still hold: nothing to redraw


def test_the_piece_after_next_is_decoded_during_the_crossfade(sim):
    show = sim.ready_show(sim.pieces(3), hold=5.0, crossfade=2.0, order="featured")
    sim.drive(show, 2.0 + 5.0 + 0.5)  # half a second into the crossfade 1 -> 2
    frame = show.tick(0.05)
    assert (frame.current, frame.incoming) == (1, 2) and frame.wanted == (1, 2, 3)


def test_cut_changes_in_one_frame(sim):
    show = sim.ready_show(sim.pieces(3), hold=1.0, transition="cut")
    frames = sim.drive(show, 5.0)
    assert all(f.incoming is None for f in frames)
    assert len(sim.shown(frames)) >= 4


@pytest.mark.parametrize("order", ["featured", "score", "clusters", "newest"])
@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_never_the_same_piece_twice_in_a_row(sim, order, n):
    items = [replace(p, featured=p.id % 3 == 0, score=float(p.id % 4), group=f"g{p.id % 2}")
             for p in sim.pieces(n)]
    show = sim.ready_show(items, hold=0.2, crossfade=0.1, order=order)
    seq = sim.shown(sim.drive(show, 60.0))
    assert all(a != b for a, b in zip(seq, seq[1:], strict=False))
    if n == 1:
        assert seq == [1], "a single piece simply stays"
    else:
        assert set(seq) == {p.id for p in items}, "every piece comes round"


def test_featured_first_then_accepted_cycling(sim):
    items = [replace(p, featured=p.id in (3, 5)) for p in sim.pieces(5)]
    show = sim.ready_show(items, hold=0.5, crossfade=0.1, order="featured")
    assert sim.shown(sim.drive(show, 9.0))[:7] == [3, 5, 1, 2, 4, 3, 5]


def test_newest_first_cycling(sim):
    show = sim.ready_show(sim.pieces(4), hold=0.5, crossfade=0.1, order="newest")
    assert sim.shown(sim.drive(show, 9.0))[:6] == [4, 3, 2, 1, 4, 3]


def test_round_robin_over_clusters(sim):
    groups = {1: "a", 2: "a", 3: "a", 4: "b", 5: "c", 6: "c"}
    items = [replace(p, group=groups[p.id]) for p in sim.pieces(6)]
    show = sim.ready_show(items, hold=0.5, crossfade=0.1, order="clusters")
    seq = sim.shown(sim.drive(show, 14.0))[:9]
    assert [groups[p] for p in seq] == ["a", "b", "c"] * 3
    assert seq[0::3] == [1, 2, 3], "inside a cluster, the piece shown longest ago"
    assert seq[2::3] == [5, 6, 5]


def test_score_weighted_prefers_high_scores(sim):
    items = [replace(p, score={1: 9.0, 2: 8.0, 3: 5.0, 4: 3.0, 5: None, 6: 2.0}[p.id]) for p in sim.pieces(6)]
    show = sim.ready_show(items, hold=0.05, crossfade=0.0, transition="cut", order="score")
    seq = sim.shown(sim.drive(show, 150.0))
    counts = {pid: seq.count(pid) for pid in range(1, 7)}
    assert counts[1] > counts[2] > counts[3] > counts[4]
    assert all(counts[pid] > 0 for pid in counts), "the last few are excluded, so everything comes round"
    assert all(a != b for a, b in zip(seq, seq[1:], strict=False))


def test_pause_freezes_the_hold_but_finishes_a_running_crossfade(sim):
    show = sim.ready_show(sim.pieces(3), hold=2.0, crossfade=1.0)
    sim.drive(show, 1.5)  # in the fade-in
    show.pause()
    frames = sim.drive(show, 30.0)
    assert frames[-1].paused and frames[-1].current is not None and frames[-1].incoming is None
    assert len(sim.shown(frames)) == 1, "no change while paused"
    show.resume()
    frames = sim.drive(show, 3.5)
    assert len(sim.shown(frames)) == 2


def test_next_and_previous(sim):
    show = sim.ready_show(sim.pieces(4), hold=100.0, crossfade=2.0, order="featured")
    sim.drive(show, 3.0)
    assert show.current == 1
    show.next()
    frames = sim.drive(show, 1.0)
    assert show.current == 2
    assert sum(f.incoming is not None for f in frames) * 0.05 == pytest.approx(MANUAL_TRANSITION, abs=0.06)
    show.next()
    sim.drive(show, 1.0)
    assert show.current == 3
    show.previous()
    sim.drive(show, 1.0)
    assert show.current == 2
    show.previous()
    sim.drive(show, 1.0)
    assert show.current == 1
    show.previous()  # nothing before the first: stays
    sim.drive(show, 1.0)
    assert show.current == 1
    show.next()
    sim.drive(show, 1.0)
    assert show.current == 2, "after going back, next goes forward through what was shown"
    assert show.command("next") and not show.command("dance")


def test_next_waits_for_its_piece_to_be_decoded(sim):
    show = Slideshow(GalleryConfig(seed=0, hold=100.0, order="featured"))
    show.set_pieces(sim.pieces(3))
    show.set_ready([1])
    sim.drive(show, 3.0)
    assert show.current == 1
    show.next()
    frames = sim.drive(show, 2.0)
    assert all(f.current == 1 and f.incoming is None for f in frames)
    assert frames[-1].wanted == (1, 2), "the next piece is wanted, first after the one on screen"
    show.set_ready([1, 2])
    sim.drive(show, 1.0)
    assert show.current == 2


def test_closed_hours_blank_the_screen_and_stop_the_clock(sim):
    show = sim.ready_show(sim.pieces(3), hold=5.0, crossfade=1.0, hours="10:00-18:00")
    open_time, closed_time = datetime(2025, 6, 2, 12, 0), datetime(2025, 6, 2, 19, 0)
    sim.drive(show, 3.0, now=open_time)
    on_screen = show.current
    frames = sim.drive(show, 60.0, now=closed_time)
    assert all(f.blank and not f.moving for f in frames)
    assert show.current == on_screen
    frame = show.tick(0.05, open_time)
    assert not frame.blank and frame.current == on_screen


def test_new_pieces_come_next_and_removed_ones_leave_at_once(sim):
    items = sim.pieces(3)
    show = sim.ready_show(items, hold=100.0, crossfade=1.0)
    sim.drive(show, 2.0)
    assert show.current == 1
    extra = PieceInfo(id=9, slug="p9", path="/x/9.png", sha256="sha9")
    show.set_pieces([*items, extra])
    show.set_ready([1, 2, 3, 9])
    assert show.tick(0.05).wanted[-1] == 9
    show.next()
    sim.drive(show, 1.0)
    assert show.current == 9, "a piece accepted while running is shown next"
    show.set_pieces(items)  # 9 rejected while on screen
    frame = show.tick(0.05)
    assert frame.current != 9 and frame.incoming != 9
    frames = sim.drive(show, 2.0)
    assert 9 not in {f.current for f in frames} | {f.incoming for f in frames}
    show.set_pieces([])
    frame = show.tick(0.05)
    assert frame.current is None and frame.incoming is None and frame.wanted == ()


def test_failed_pieces_are_skipped_until_their_file_changes(sim):
    items = sim.pieces(3)
    show = sim.ready_show(items, hold=0.5, crossfade=0.1, retry_failed=1e9)
    show.mark_failed(2)
    seq = sim.shown(sim.drive(show, 10.0))
    assert 2 not in seq and {1, 3} <= set(seq)
    show.set_pieces([items[0], replace(items[1], sha256="fixed"), items[2]])
    show.set_ready([1, 2, 3])
    assert 2 in sim.shown(sim.drive(show, 10.0))


def test_failed_pieces_are_tried_again_after_a_while(sim):
    show = sim.ready_show(sim.pieces(3), hold=0.5, crossfade=0.1, retry_failed=5.0)
    show.mark_failed(2)
    first = sim.shown(sim.drive(show, 4.0))
    show.set_ready([1, 2, 3])
    later = sim.shown(sim.drive(show, 10.0))
    assert 2 not in first and 2 in later


def test_resume_continues_where_it_was(sim):
    items = sim.pieces(5)
    show = sim.ready_show(items, hold=4.0, crossfade=1.0, order="featured")
    sim.drive(show, 1.0 + 4.0 + 1.0 + 4.0 + 1.0 + 1.5)  # p1, p2, p3 shown; 1.5 s into p3's hold
    assert show.current == 3
    state = json.loads(json.dumps(show.snapshot()))  # as through the state file
    assert state["current"] == "p3" and state["history"] == ["p1", "p2", "p3"]
    assert state["hold_elapsed"] == pytest.approx(1.5, abs=0.25)

    again = Slideshow(GalleryConfig(seed=0, hold=4.0, crossfade=1.0, order="featured"))
    again.restore(state)
    again.set_pieces(items)
    again.set_ready([1, 2, 3, 4, 5])
    frames = sim.drive(again, 1.0 + 2.5 + 1.0 + 0.5)
    assert sim.shown(frames) == [3, 4], "p3 again (rest of its hold), then the playlist goes on"
    held = sum(1 for f in frames if f.current == 3 and f.incoming is None) * 0.05
    assert held == pytest.approx(4.0 - state["hold_elapsed"], abs=0.1)
    again.previous()
    sim.drive(again, 1.0)
    assert again.current == 3
    again.previous()
    sim.drive(again, 1.0)
    assert again.current == 2, "the history survived the restart"


def test_resume_with_pieces_gone(sim):
    show = Slideshow(GalleryConfig(seed=0, order="featured"))
    show.restore({"version": 1, "current": "gone", "history": ["gone", "p2"], "paused": True, "overlays": False})
    show.set_pieces(sim.pieces(3))
    show.set_ready([1, 2, 3])
    frame = show.tick(0.05)
    assert frame.paused and frame.overlays == frozenset()
    sim.drive(show, 3.0)
    assert show.current == 3, "continues after the last piece it still knows (p2)"


def test_overlays_follow_config_and_toggle(sim):
    show = sim.ready_show(sim.pieces(2), reflection=False)
    assert show.tick(0.05).overlays == {"title", "qr"}
    show.toggle_overlays()
    assert show.tick(0.05).overlays == frozenset()


def test_ken_burns_stays_inside_the_canvas_and_moves(sim):
    for pid in range(50):
        for t in (0.0, 0.3, 1.0):
            v = ken_burns_view(pid, 1, t, 1.2)
            assert 1.0 <= v.zoom <= 1.2
            half = 0.5 / v.zoom
            assert half - 1e-9 <= v.cx <= 1 - half + 1e-9 and half - 1e-9 <= v.cy <= 1 - half + 1e-9
    assert ken_burns_view(7, 3, 0.5, 1.2) == ken_burns_view(7, 3, 0.5, 1.2), "a restart replays the same path"
    show = sim.ready_show(sim.pieces(2), hold=10.0, crossfade=1.0, ken_burns=True)
    frames = sim.drive(show, 6.0)
    views = [f.current_view for f in frames if f.current is not None]
    assert len(set(views)) > 50 and all(f.moving for f in frames)
    assert show.tick(0.05, None).current_view != views[-1]


def test_smoothstep_ends():
    assert smoothstep(-1) == 0 and smoothstep(0.5) == 0.5 and smoothstep(2) == 1


def test_config_rejects_bad_values():
    with pytest.raises(GalleryError, match="order must be one of"):
        GalleryConfig(order="random")
    with pytest.raises(GalleryError, match="hold must be >= 0"):
        GalleryConfig(hold=-1)
    with pytest.raises(GalleryError, match="not a time like"):
        GalleryConfig(hours="10-18")
