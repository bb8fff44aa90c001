"""What a queued job may hold: one check for `dstrtd queue`, the web's /api/control/queue and the Studio tab, by the
rules the worker applies when it takes the job."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from PIL import Image

from installation.job_settings import PRIORITY_MAX, PRIORITY_MIN, JobSettingsError, check_job


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "studio" / "inputs").mkdir(parents=True)
    Image.new("RGB", (32, 32), (20, 90, 40)).save(tmp_path / "studio" / "inputs" / "reef.png")
    Image.new("RGB", (32, 32), (20, 90, 40)).save(tmp_path / "elsewhere.png")
    return tmp_path / "studio"


@pytest.mark.parametrize(("prompt", "settings", "priority", "message"), [
    ("a reef:1", {}, PRIORITY_MAX + 1, f"priority must be a whole number from {PRIORITY_MIN} to {PRIORITY_MAX}"),
    ("a reef:1", {}, PRIORITY_MIN - 1, "priority must be a whole number"),
    ("a reef:1", {}, True, "priority must be a whole number"),
    ("a reef:1", {}, 1.5, "priority must be a whole number"),
    ("a reef \ud800:1", {}, 0, "the prompt holds a character that is not text (a lone surrogate)"),
    ("a reef:1", {"cutout_mode": "classic\udfff"}, 0, "settings['cutout_mode'] holds a character that is not text"),
    ("a reef:1", {"\ud800": 1}, 0, "settings key holds a character that is not text"),
    ("a reef:1", {"steps": math.nan}, 0, "settings['steps'] must be a finite number, got nan"),
    ("a reef:1", {"lr": math.inf}, 0, "settings['lr'] must be a finite number, got inf"),
    ("a reef:1", {"size": [64, -math.inf]}, 0, "settings['size'] must be a finite number"),
    ("a reef:1", {"bogus": 1}, 0, "invalid job settings: unknown setting(s) bogus"),
    ("a reef:1", {"studio": {"nan_restarts": 9}}, 0, "unknown setting(s) studio"),  # the worker's bookkeeping
    ("a reef:1", {"steps": 0}, 0, "invalid job settings: steps must be at least 1"),
    ("  ", {}, 0, "a job needs a prompt"),
    ("a reef:1", {"init_image": "/etc/passwd"}, 0, "init_image '/etc/passwd' lies outside the studio"),
    ("a reef:1", {"init_image": "../elsewhere.png"}, 0, "init_image '../elsewhere.png' lies outside the studio"),
    ("a reef:1", {"init_image": "inputs/missing.png"}, 0, "is not a file in the studio"),
    ("a reef:1", {"image_prompts": ["/etc/hostname:0.5"]}, 0, "image prompt '/etc/hostname' lies outside"),
])
def test_what_the_worker_would_refuse_is_refused_when_queued(root: Path, prompt: str, settings: dict,
                                                            priority: object, message: str) -> None:
    with pytest.raises(JobSettingsError) as refused:
        check_job(prompt, settings, priority=priority, studio=root)  # type: ignore[arg-type]
    assert message in str(refused.value)
    str(refused.value).encode("utf-8")  # the message itself is always text (a 4xx, a line on the terminal)


def test_good_jobs_pass_and_studio_paths_come_back_absolute(root: Path) -> None:
    assert check_job("a reef:1 | text:-0.5", {"steps": 300, "seed": 7, "lr": 0.05}, priority=PRIORITY_MAX,
                     studio=root) == {"steps": 300, "seed": 7, "lr": 0.05}
    inside = str((root / "inputs" / "reef.png").resolve())
    assert check_job("a reef:1", {"init_image": "inputs/reef.png", "image_prompts": ["inputs/reef.png:0.5"]},
                     priority=0, studio=root) == {"init_image": inside, "image_prompts": [f"{inside}:0.5"]}
    with pytest.raises(JobSettingsError, match="the theme holds a character that is not text"):
        check_job("a reef:1", {}, priority=0, studio=root, theme="reef\ud800")
