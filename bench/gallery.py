"""Gallery benchmark: crossfade frame rates at 1080p and 4K, CPU while holding a piece, RSS over many transitions.

    python bench/gallery.py                    # full run (10,000 transitions; a few minutes on 2 cores)
    python bench/gallery.py --transitions 500  # quick look

Runs headless (SDL_VIDEODRIVER=dummy: pygame draws into an offscreen software surface, as on a machine without a
GPU; a real display adds the driver's copy to the screen). Prints a table and writes bench/results/gallery.json.
Targets: >= 60 fps for a 1080p crossfade on 2 cores; < 5 % RSS growth over 10,000 transitions.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np  # noqa: E402
import pygame  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # why: before bench/, whose curation.py would shadow the package

from curation.studio import Studio, init_studio  # noqa: E402
from installation.gallery.app import GalleryApp  # noqa: E402
from installation.gallery.config import GalleryConfig  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "gallery.json"
NATURE = Path(__file__).resolve().parents[2] / "shared" / "data" / "nature"
THEMES = ("coral-reef", "old-growth-forest", "glacier", "wetland")


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # peak, not current: a weaker figure


def piece_bytes(i: int, size: int = 512) -> bytes:
    """A VQGAN-sized piece (512 px) with texture, so decoding costs what a real one does."""
    rng = np.random.default_rng(i)
    base = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    img = Image.fromarray(base).resize((size, size), Image.Resampling.BICUBIC)
    noise = rng.integers(-20, 20, (size, size, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(np.asarray(img, np.int16) + noise, 0, 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def make_studio(root: Path, n: int, broken: bool = True) -> Studio:
    studio = init_studio(root)
    photos = sorted(NATURE.glob("*.jpg")) if NATURE.is_dir() else []
    with studio.catalog() as cat:
        for i in range(n):
            if i < len(photos) and i % 2 == 0:  # real photographs where ../shared is present
                files, name = {"image.jpg": str(photos[i])}, "image.jpg"
            else:
                files, name = {"image.png": piece_bytes(i)}, "image.png"
            cat.add_piece(files, prompt="bench", theme=THEMES[i % 4], title=f"Piece {i}", status="accepted",
                          image_name=name)
        if broken:  # the failure path is part of what runs for weeks
            good = piece_bytes(999)
            cat.add_piece({"image.png": good[: len(good) // 3]}, prompt="bench", status="accepted")
    return studio


def step(app: GalleryApp, dt: float):
    frame = app.step(dt)
    if app.quit:  # SDL turns SIGINT/SIGTERM into a quit event, which the loop takes
        raise KeyboardInterrupt
    return frame


def step_until(app: GalleryApp, done, dt: float = 0.05, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = step(app, dt)
        if done(frame):
            return frame
        time.sleep(0.002)
    raise RuntimeError("benchmark setup did not reach its state in time")


def crossfade_fps(studio: Studio, size: tuple[int, int], frames: int, **config) -> dict:
    """Frames per second of the whole loop (events, catalog queue, tick, draw, flip) in a crossfade."""
    cfg = GalleryConfig(windowed=size, hold=0.0, crossfade=2.0, seed=0, poll=1.0, state=str(studio.root / "b.json"),
                        **config)
    app = GalleryApp(studio, cfg)
    app.start()
    try:
        step_until(app, lambda f: f.current is not None and f.incoming is not None and 0.05 < f.alpha < 0.5)
        draws, t0, c0 = app.draws, time.perf_counter(), time.thread_time()
        for _ in range(frames):
            frame = step(app, 1e-6)  # alpha still moves, so every step draws, and the fade never ends meanwhile
        seconds, cpu = time.perf_counter() - t0, time.thread_time() - c0
        assert frame.incoming is not None and app.draws - draws == frames, "every measured frame was a crossfade"
    finally:
        app.close()
    # wall-clock fps is what this machine gave now; fps per CPU-second of the render thread is what one core
    # gives when nothing else competes for it (the figure to compare on a shared machine)
    return {"fps": frames / seconds, "ms_per_frame": 1000 * seconds / frames, "fps_per_cpu_second": frames / cpu,
            "frames": frames}


def cpu_while(studio: Studio, seconds: float, **config) -> dict:
    """CPU use of the real loop (`run()`, with its own frame pacing) while it holds a piece or sits closed."""
    cfg = GalleryConfig(windowed=(1920, 1080), hold=1e6, crossfade=0.3, seed=0, seconds=seconds + 3.0,
                        state=str(studio.root / "b.json"), **config)
    app = GalleryApp(studio, cfg)
    marks: dict[str, tuple[float, float, int]] = {}

    def sample() -> None:
        while not (app.started and app.last_frame is not None and app.last_frame.incoming is None
                   and (app.last_frame.current is not None or app.last_frame.blank)):
            time.sleep(0.02)
        time.sleep(0.5)
        t = os.times()
        marks["a"] = (time.monotonic(), t.user + t.system, app.frames)
        time.sleep(seconds)
        t = os.times()
        marks["b"] = (time.monotonic(), t.user + t.system, app.frames)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    app.run()
    sampler.join(5)
    (wa, ca, fa), (wb, cb, fb) = marks["a"], marks["b"]
    return {"cpu_percent_of_one_core": 100 * (cb - ca) / (wb - wa), "loop_hz": (fb - fa) / (wb - wa),
            "seconds": wb - wa}


def rss_over_transitions(studio: Studio, transitions: int, size: tuple[int, int]) -> dict:
    """RSS while the loop runs `transitions` crossfades, each piece decoded afresh (a cache holds only 3)."""
    cfg = GalleryConfig(windowed=size, hold=0.0, crossfade=0.1, seed=0, poll=0.5, retry_failed=30.0,
                        state=str(studio.root / "b.json"))
    app = GalleryApp(studio, cfg)
    app.start()
    samples = []
    count, last = 0, None
    t0 = time.perf_counter()
    try:
        samples.append((0, rss_bytes()))
        every = max(1, transitions // 10)
        while count < transitions:
            frame = step(app, 0.05)
            if frame.current is not None and frame.current != last:
                last, count = frame.current, count + 1
                if count % every == 0:
                    samples.append((count, rss_bytes()))
            if app.preloader.busy:
                time.sleep(0.001)  # the loop would be pacing frames here; let the decoder have the core
    finally:
        app.close()
    seconds = time.perf_counter() - t0
    warm = next((r for c, r in samples if c >= every), samples[0][1])
    return {
        "transitions": count, "seconds": seconds, "screen": list(size),
        "rss_mb": [(c, round(r / 2**20, 1)) for c, r in samples],
        "growth_percent_after_warmup": 100 * (samples[-1][1] - warm) / warm,
        "growth_percent_from_start": 100 * (samples[-1][1] - samples[0][1]) / samples[0][1],
    }


def closed_hours_now() -> str:
    later = datetime.now() + timedelta(hours=2)
    return f"{later:%H}:00-{(later + timedelta(hours=1)):%H}:00"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transitions", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=300, help="frames per frame-rate measurement")
    parser.add_argument("--hold-seconds", type=float, default=8.0)
    parser.add_argument("--rss-screen", default="1280x720", help="screen size for the RSS run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rss_screen = tuple(int(v) for v in args.rss_screen.lower().split("x"))

    results: dict = {
        "machine": {"python": platform.python_version(), "pygame": pygame.version.ver, "sdl": ".".join(
            map(str, pygame.get_sdl_version())), "cpus": os.cpu_count(), "processor": platform.processor(),
            "driver": os.environ["SDL_VIDEODRIVER"]},
        "date": datetime.now().isoformat(timespec="seconds"),
        "load_average_before": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    with tempfile.TemporaryDirectory() as tmp:
        studio = make_studio(Path(tmp) / "studio", 12)
        # first, while the heap is fresh: memory freed by the 4K runs would otherwise hide a leak
        results["rss"] = rss_over_transitions(studio, args.transitions, rss_screen)
        print("  rss done", file=sys.stderr)
        fps = {}
        for name, size, extra in [
            ("1080p crossfade", (1920, 1080), {}),
            ("1080p crossfade, no overlays", (1920, 1080), {"title": False, "reflection": False, "qr": False}),
            ("1080p crossfade + Ken Burns", (1920, 1080), {"ken_burns": True}),
            ("4K crossfade", (3840, 2160), {}),
            ("4K crossfade + Ken Burns", (3840, 2160), {"ken_burns": True}),
        ]:
            fps[name] = crossfade_fps(studio, size, args.frames, **extra)
            print(f"  {name}: {fps[name]['fps']:.0f} fps", file=sys.stderr)
        results["crossfade"] = fps
        results["cpu"] = {
            "holding a piece (1080p)": cpu_while(studio, args.hold_seconds),
            "closed hours (black)": cpu_while(studio, args.hold_seconds, hours=closed_hours_now()),
        }
        print("  cpu done", file=sys.stderr)

    rows = [("measure", "value", "target")]
    for name, r in results["crossfade"].items():
        target = ">= 60 fps" if name == "1080p crossfade" else ""
        rows.append((f"{name} (whole loop)", f"{r['fps']:.0f} fps wall, {r['fps_per_cpu_second']:.0f} fps per "
                     "render-thread CPU s", target))
    for name, r in results["cpu"].items():
        rows.append((f"CPU, {name}", f"{r['cpu_percent_of_one_core']:.1f} % of one core ({r['loop_hz']:.0f} Hz loop)",
                     ""))
    rss = results["rss"]
    rows.append((f"RSS over {rss['transitions']:,} transitions ({rss['screen'][0]}x{rss['screen'][1]})",
                 f"{rss['rss_mb'][1][1]:.0f} -> {rss['rss_mb'][-1][1]:.0f} MB, "
                 f"{rss['growth_percent_after_warmup']:+.1f} % after warm-up", "< 5 %"))
    rows.append(("  (run time of the RSS run)", f"{rss['seconds']:.0f} s, {rss['transitions'] / rss['seconds']:.0f} "
                 "transitions/s", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))

    if hasattr(os, "getloadavg"):
        results["load_average_after"] = os.getloadavg()
        busy = max(results["load_average_before"][0], results["load_average_after"][0]) > (os.cpu_count() or 1)
        print(f"load average before {results['load_average_before'][0]:.1f}, after "
              f"{results['load_average_after'][0]:.1f} on {os.cpu_count()} CPUs"
              + (": other work competed, wall-clock figures are pessimistic" if busy else ""))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(tmp_out, args.out)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
