"""A rubric version's archive is deterministic and safe to unpack; the diff of two versions names
what changes scores (no database here: grader.rubric_archive and grader.rubric_diff)."""

from __future__ import annotations

import io
import os
import re
import shutil
import tarfile
from pathlib import Path

import pytest

from grader.rubric_archive import pack, pack_files, unpack, write_files
from grader.rubric_diff import PointsChange, diff_rubrics
from grader.rubric_spec import RubricError, content_hash, load_rubric, rubric_files
from tests.conftest import ROOT
from tests.service.helpers import add_manual_question, set_points


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "hw2"
    shutil.copytree(ROOT / "rubrics" / "hw2", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_the_same_files_give_the_same_archive_and_its_hash_is_the_folders(folder: Path, tmp_path: Path) -> None:
    rubric_hash, archive = pack(folder)
    assert rubric_hash == content_hash(folder) == load_rubric(folder).content_hash
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    for path in copy.rglob("*"):
        os.utime(path, (1, 1))
        path.chmod(0o700 if path.is_dir() else 0o600)
    (copy / "handout" / "hw2.py").write_text("# the handout is not part of a version\n")
    assert pack(copy) == (rubric_hash, archive)  # times, modes, the handout and the folder's name do not count

    (copy / "reference.py").write_text((copy / "reference.py").read_text() + "\n# changed\n")
    assert pack(copy)[0] != rubric_hash


def test_an_archive_unpacks_to_the_same_files(folder: Path, tmp_path: Path) -> None:
    files = unpack(pack(folder)[1])
    assert files == rubric_files(folder)
    target = tmp_path / "out"
    target.mkdir()
    write_files(files, target)
    assert content_hash(target) == content_hash(folder)
    assert load_rubric(target).questions == load_rubric(folder).questions


def _tar(member: tarfile.TarInfo, content: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        member.size = len(content)
        tar.addfile(member, io.BytesIO(content))
    return buffer.getvalue()


def _link(name: str, target: str) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname = tarfile.SYMTYPE, target
    return member


@pytest.mark.parametrize("archive", [
    _tar(tarfile.TarInfo("../escape.py"), b"x"),
    _tar(tarfile.TarInfo("/etc/cron.d/escape"), b"x"),
    _tar(_link("reference.py", "/etc/shadow")),
], ids=["parent", "absolute", "symlink"])
def test_an_archive_cannot_write_outside_its_folder(archive: bytes) -> None:
    with pytest.raises(RubricError, match="not a file inside the rubric"):
        unpack(archive)


def test_a_packed_archive_names_its_files_in_order_with_nothing_of_this_machine() -> None:
    archive = pack_files({"b.py": b"b", "a/c.py": b"c"})
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["a/c.py", "b.py"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {(0, 0, 0, "", "", 0o644)}


def test_the_diff_names_added_and_removed_questions_points_and_other_changes(folder: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    set_points(folder, "1.1b", 4)
    add_manual_question(folder, "1.4", 2)
    toml = folder / "rubric.toml"
    text = toml.read_text()
    text, removed = re.subn(r'\[\[questions\]\]\nid = "1\.3\.2"\n(?:(?!\[\[).*\n)*', "", text)
    assert removed == 1
    text = text.replace("total_points = 54", "total_points = 53").replace("call_timeout_s = 10", "call_timeout_s = 5")
    toml.write_text(text.replace('id = "1.2.3d"\ntitle = "AttentionRNN(inf) forward values"\npoints = 3\n'
                                 'visibility = "hidden"', 'id = "1.2.3d"\ntitle = "AttentionRNN(inf) forward values"\n'
                                 'points = 3\nvisibility = "visible"'))

    diff = diff_rubrics(load_rubric(old), load_rubric(folder))
    assert [q.id for q in diff.added] == ["1.4"] and [q.id for q in diff.removed] == ["1.3.2"]
    assert diff.points == (PointsChange("1.1b", "Conv output size for any stride, padding and dilation", 2, 4),)
    assert diff.settings == ("[limits] call_timeout_s 10 -> 5", "1.2.3d: visibility 'hidden' -> 'visible'")
    assert diff.files == ("rubric.toml",)
    assert (diff.old_total, diff.new_total) == (50, 53)
    assert diff.lines() == [
        "+ 1.4 (2 points, manual): Added by hand",
        "- 1.3.2 (1 points, manual): Loss curves: question 2",
        "~ 1.1b: 2 -> 4 points",
        "~ [limits] call_timeout_s 10 -> 5",
        "~ 1.2.3d: visibility 'hidden' -> 'visible'",
        "total: 50 -> 53 points",
        "file changed: rubric.toml",
    ]
    assert diff_rubrics(load_rubric(old), load_rubric(old)).empty
