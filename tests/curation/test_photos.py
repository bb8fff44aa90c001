"""Imported photographs: how a piece says it is someone's photograph, and where the photographer's name comes from."""

from __future__ import annotations

from pathlib import Path

from curation.photos import Photo, PhotoCredits, photo_settings, piece_photo, split_byline

# the columns of ../shared/data/nature/manifest.csv, a folder of freely licensed wallpapers
MANIFEST = ("file,source_debian_package,version,author,license,subject,width,height,sha256\n"
            "plasma__Path.jpg,plasma-workspace-wallpapers,4:5.27.5-2,Risto Saukonpää,LGPLv3,forest path,1280,800,ab\n"
            "plasma__Nameless.jpg,plasma-workspace-wallpapers,4:5.27.5-2,,,lake,1280,800,cd\n")


def test_a_photographs_settings_and_its_byline() -> None:
    settings = photo_settings("Risto  Saukonpää\n", "LGPLv3")
    assert settings == {"kind": "photo", "credit": "Risto Saukonpää", "licence": "LGPLv3"}
    photo = piece_photo(settings)
    assert photo == Photo("Risto Saukonpää", "LGPLv3") and photo.byline == "Photograph by Risto Saukonpää (LGPLv3)"
    assert piece_photo({"imported_from": "/home/a/x.jpg"}) == Photo(""), "imported before credits were recorded"
    assert Photo("").byline == "Photograph (photographer unknown)"
    assert piece_photo({"prompts": ["a reef:1"], "steps": 300}) is None, "the computer made it"
    assert len(photo_settings("x" * 500)["credit"]) == 120


def test_split_byline() -> None:
    assert split_byline("Dragonfly by Bolly") == ("Dragonfly", "Bolly")
    assert split_byline("aitzgorri by Aitzol Berasategi") == ("aitzgorri", "Aitzol Berasategi")
    assert split_byline("Stand by Me by Ana") == ("Stand", "Me by Ana")  # the first " by ": titles rarely hold one
    assert split_byline("bypass road") == ("bypass road", "") and split_byline("by Ana") == ("by Ana", "")


def test_credits_come_from_the_manifest_else_the_file_name_else_the_artist(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text(MANIFEST, encoding="utf-8")
    credits = PhotoCredits(tmp_path, credit="Ana Lúcia", licence="CC BY 4.0")
    assert credits.settings(tmp_path / "plasma__Path.jpg", "Path") == (
        {"kind": "photo", "credit": "Risto Saukonpää", "licence": "LGPLv3"}, "Path")
    assert credits.settings(tmp_path / "lomiri__Dragonfly_by_Bolly.jpg", "Dragonfly by Bolly") == (
        {"kind": "photo", "credit": "Bolly", "licence": "CC BY 4.0"}, "Dragonfly")
    assert credits.settings(tmp_path / "plasma__Nameless.jpg", "Nameless") == (
        {"kind": "photo", "credit": "Ana Lúcia", "licence": "CC BY 4.0"}, "Nameless")
    bare = PhotoCredits(tmp_path / "elsewhere")
    assert bare.settings(tmp_path / "reef.jpg", "reef") == ({"kind": "photo", "credit": "", "licence": ""}, "reef")
    (tmp_path / "manifest.csv").write_bytes(b"\xff\xfe not utf-8")
    assert PhotoCredits(tmp_path).manifest == {}, "an unreadable manifest is logged and skipped"


def test_the_shared_nature_folders_manifest_credits_every_photo() -> None:
    folder = Path(__file__).resolve().parents[3] / "shared" / "data" / "nature"
    if not (folder / "manifest.csv").is_file():
        import pytest

        pytest.skip("../shared/data/nature is not here")
    credits = PhotoCredits(folder)
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    assert images and all(credits.settings(p, p.stem)[0]["credit"] for p in images)
