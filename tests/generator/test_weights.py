"""Weights cache: local paths, offline messages, resumable and verified downloads, checksums, the download lock."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading

import pytest

from generator import registry, weights
from generator.errors import GeneratorError, WeightsUnavailable

PAYLOAD = bytes(range(256)) * 1200  # 300 KiB


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    ranges: list[str | None] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path != "/w.bin":
            self.send_error(404)
            return
        header = self.headers.get("Range")
        type(self).ranges.append(header)
        start = int(header.removeprefix("bytes=").rstrip("-")) if header else 0
        body = PAYLOAD[start:]
        self.send_response(206 if header else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server(monkeypatch):
    monkeypatch.delenv("DSTRTD_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    _RangeHandler.ranges = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_local_paths_are_returned_as_they_are(tmp_path):
    f = tmp_path / "mine.ckpt"
    f.write_bytes(b"x")
    assert weights.fetch(f) == f
    with pytest.raises(GeneratorError, match="neither a file nor a known weights name; known: .*clip_vit_b_32_openai"):
        weights.fetch(tmp_path / "absent.ckpt")


def test_offline_fetch_says_which_file_to_place_where(monkeypatch):
    monkeypatch.setenv("DSTRTD_OFFLINE", "1")
    with pytest.raises(WeightsUnavailable) as info:
        weights.fetch("vqgan_imagenet_f16_16384")
    message = str(info.value)
    assert "\n" not in message
    assert "vqgan_imagenet_f16_16384.ckpt" in message and "heibox.uni-heidelberg.de" in message
    assert str(weights.weights_dir() / "vqgan_imagenet_f16_16384.ckpt") in message


def test_download_resumes_with_range_and_verifies(server, tmp_path):
    dest = tmp_path / "w.bin"
    part = tmp_path / "w.bin.part"
    part.write_bytes(PAYLOAD[:100_000])  # an interrupted earlier download
    seen = []
    path = weights.download(f"{server}/w.bin", dest, sha256=hashlib.sha256(PAYLOAD).hexdigest(),
                            progress=lambda done, total, name: seen.append((done, total, name)))
    assert path == dest and dest.read_bytes() == PAYLOAD and not part.exists()
    assert _RangeHandler.ranges == ["bytes=100000-"]
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD), "w.bin")
    assert weights.checksum(dest) == hashlib.sha256(PAYLOAD).hexdigest()


def test_download_with_wrong_checksum_keeps_nothing(server, tmp_path):
    dest = tmp_path / "w.bin"
    with pytest.raises(WeightsUnavailable, match="expected 0000"):
        weights.download(f"{server}/w.bin", dest, sha256="0000" + "0" * 60)
    assert not dest.exists() and not (tmp_path / "w.bin.part").exists()


def test_fetch_downloads_into_the_cache_once_and_fails_over_mirrors(server, tmp_path, monkeypatch):
    folder = tmp_path / "registry" / "weights"
    folder.mkdir(parents=True)
    entry = {"kind": "vqgan", "licence": "test", "files": [{"role": "checkpoint", "filename": "w.bin",
             "sha256": hashlib.sha256(PAYLOAD).hexdigest(), "urls": [f"{server}/gone.bin", f"{server}/w.bin"]}]}
    (folder / "test_weights.json").write_text(json.dumps(entry))
    monkeypatch.setattr(registry, "ROOT", tmp_path / "registry")
    path = weights.fetch("test_weights")
    assert path == weights.weights_dir() / "w.bin" and path.read_bytes() == PAYLOAD
    assert _RangeHandler.ranges == [None]
    assert weights.fetch("test_weights") == path and len(_RangeHandler.ranges) == 1  # cached: no request
    [result] = weights.verify(["test_weights"])
    assert result.status == "ok"


def test_unreachable_mirrors_give_one_clear_message(server, tmp_path, monkeypatch):
    folder = tmp_path / "registry" / "weights"
    folder.mkdir(parents=True)
    entry = {"kind": "vqgan", "licence": "test", "files": [{"role": "checkpoint", "filename": "x.ckpt",
             "sha256": None, "urls": [f"{server}/gone.bin"]}]}
    (folder / "gone.json").write_text(json.dumps(entry))
    monkeypatch.setattr(registry, "ROOT", tmp_path / "registry")
    with pytest.raises(WeightsUnavailable, match=r"could not be downloaded .*404.*place it at .*x\.ckpt"):
        weights.fetch("gone")
